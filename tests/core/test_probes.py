"""/healthz and /readyz: liveness, and each dependency checked with a short timeout."""

import socket
import sys

import httpx
import pytest
from django.test import override_settings

from pixdash.celery import app as celery_app
from pixdash.settings import s3_storage
from tests.e2e.conftest import _spawn, _wait_for, child_env
from tests.s3 import REGION, free_port


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz", headers={"Host": "10.1.2.3:8000"})  # a probe's Host

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_lists_every_check_with_its_latency(client, db):
    response = client.get("/readyz", headers={"Host": "10.1.2.3:8000"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "cache", "storage"}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert check["latency_ms"] >= 0


def test_readyz_with_an_s3_bucket_checks_the_bucket(client, db, s3_media, moto_s3, settings):
    assert client.get("/readyz").json()["checks"]["storage"]["ok"] is True

    missing = s3_storage(bucket="no-such-bucket", endpoint_url=moto_s3.url, region=REGION)
    with override_settings(STORAGES={**settings.STORAGES, "default": missing}):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False
    assert response.json()["checks"]["storage"]["error"] == "ClientError"


def _redis_cache(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }


def test_readyz_reports_a_cache_outage_but_stays_ready(client, db):
    # Only rate limiting uses the cache, and it lets requests through while it is down:
    # taking every process out of the balancer over it would be a full outage.
    with override_settings(CACHES=_redis_cache(free_port())):
        response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_a_check_that_hangs_is_cut_at_the_timeout(client, db):
    # A listening socket nobody accepts on: connecting works, no answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with override_settings(CACHES=_redis_cache(port), PIXDASH_READY_TIMEOUT=0.5):
            response = client.get("/readyz")

    assert response.status_code == 200  # the cache is reported, not required
    assert response.json()["checks"]["cache"] == {
        "ok": False,
        "error": "timeout",
        "latency_ms": 500,
    }


def test_readyz_answers_503_when_the_broker_is_down(client, db, monkeypatch):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    # Celery prefers the environment variable over its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", closed)
    monkeypatch.setitem(celery_app.conf, "broker_url", closed)
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probes_only_answer_reads(client, method):
    assert getattr(client, method)("/healthz").status_code == 405


def test_readyz_of_a_server_whose_database_is_gone_answers_503(tmp_path, django_db_setup):
    """A real web process whose database cannot be opened: alive, but not ready."""
    port = free_port()
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    args = ["-m", "uvicorn", "pixdash.asgi:application", "--port", str(port), "--lifespan", "off"]
    process = _spawn("web-no-db", [sys.executable, *args], env, tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"

        def alive() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(alive, "web server", process)
        response = httpx.get(f"{url}/readyz", timeout=10)
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"]["ok"] is False
        assert checks["cache"]["ok"] is True
    finally:
        process.stop()
