"""PostgreSQL goes down under a running web server: every /v1 path answers a retryable
JSON 503 within the pool timeout (key authentication included), pages answer a friendly
503 page, and everything works again once the database is back.

The database is a PostgreSQL cluster this test creates with initdb, starts and stops
itself; the web server is uvicorn as deployed."""

import os
import re
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from pixdash.accounts.keys import generate_raw_key
from tests.e2e.conftest import ROOT, start_web
from tests.services import PostgresCluster

POOL_TIMEOUT = 3
PASSWORD = "correct horse battery staple"


def _manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


@pytest.fixture(scope="module")
def cluster():
    cluster = PostgresCluster().start()
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute("CREATE DATABASE pixdash")
    yield cluster
    cluster.remove()


@pytest.fixture(scope="module")
def stack(cluster, tmp_path_factory):
    """A web server on the cluster, with a team, its owner and an API key."""
    tmp = tmp_path_factory.mktemp("outage")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": cluster.url("pixdash"),
        "PIXDASH_DATA_DIR": str(tmp),
        "PIXDASH_DB_POOL_TIMEOUT": str(POOL_TIMEOUT),
    }
    _manage(env, "migrate", "--noinput", "-v0")
    slug = _manage(
        env, "createteam", "--owner", "dora@outage.test", "--name", "Outage", "--password", PASSWORD
    )
    key = _manage(env, "createapikey", "--team", slug, "--name", "probe")
    web = start_web(
        tmp,
        DATABASE_URL=env["DATABASE_URL"],
        PIXDASH_DATA_DIR=str(tmp),
        PIXDASH_DB_POOL_TIMEOUT=str(POOL_TIMEOUT),
    )
    yield {"url": web.extra["url"], "key": key, "slug": slug, "env": env, "log": web.log}
    web.stop()


def _log_in(client: httpx.Client) -> None:
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/accounts/login/",
        data={"csrfmiddlewaretoken": token, "username": "dora@outage.test", "password": PASSWORD},
    )
    assert answer.status_code == 302, answer.text[:500]


# Every /v1 route with a body it would accept.
API_CALLS = [
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/nano-banana", None),
    ("POST", "/v1/images/generations", {"model": "nano-banana", "prompt": "a fox"}),
    ("POST", "/v1/async/images/generations", {"model": "nano-banana", "prompt": "a fox"}),
    ("POST", "/v1/images/edits", {"model": "nano-banana", "prompt": "a fox", "images": []}),
    ("POST", "/v1/async/images/edits", {"model": "nano-banana", "prompt": "a fox"}),
    ("POST", "/v1/images/quote", {"model": "nano-banana", "prompt": "a fox"}),
    ("GET", "/v1/tasks", None),
    ("GET", "/v1/tasks/task_01J00000000000000000000000", None),
]


def test_a_database_outage_answers_503_everywhere_and_recovers(cluster, stack):
    # Each answer must come within the pool timeout.
    timeout = POOL_TIMEOUT + 10
    with (
        httpx.Client(base_url=stack["url"], timeout=timeout) as browser,
        httpx.Client(
            base_url=stack["url"],
            headers={"Authorization": f"Bearer {stack['key']}"},
            timeout=timeout,
        ) as api,
    ):
        _log_in(browser)
        _check_outage(cluster, stack, browser, api)


def _check_outage(cluster, stack, browser: httpx.Client, api: httpx.Client) -> None:
    assert api.get("/v1/models").status_code == 200
    assert browser.get(f"/t/{stack['slug']}/").status_code == 200

    cluster.stop()
    try:
        for method, path, body in API_CALLS:
            response = api.request(method, path, json=body)
            assert response.status_code == 503, (path, stack["log"]()[-3000:])
            error = response.json()["error"]
            assert error["code"] == "service_unavailable"
            assert error["type"] == "server_error"
            assert response.headers.get("x-should-retry") != "false"
            assert "Retry-After" in response.headers

        # A well-formed key nobody knows is not a 401 while the keys cannot be read.
        stranger = httpx.get(
            f"{stack['url']}/v1/models",
            headers={"Authorization": f"Bearer {generate_raw_key()}"},
            timeout=POOL_TIMEOUT + 10,
        )
        assert stranger.status_code == 503

        for page in (f"/t/{stack['slug']}/", f"/t/{stack['slug']}/gallery/"):
            response = browser.get(page)
            assert response.status_code == 503, (page, response.text[:300])
            assert "briefly unavailable" in response.text
            assert "Traceback" not in response.text
    finally:
        cluster.start()

    # The pool reconnects on its own (with backoff); no process is restarted.
    deadline = time.monotonic() + 60
    while api.get("/v1/models").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert api.get("/v1/models").status_code == 200
    assert browser.get(f"/t/{stack['slug']}/").status_code == 200
