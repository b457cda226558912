"""End-to-end stack: the ASGI server (uvicorn) and a Celery worker as real processes
against the test database, the media folder and the broker this test run uses.

Tests here need committed data, so they use ``transactional_db``; the processes are
started once per test module and reach the database through their own connections.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    """The URL of the database the test run created, for the child processes."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=_test_database_url(),
        PIXDASH_DATA_DIR=str(settings.DATA_DIR),
        PYTHONUNBUFFERED="1",
        # Tests flush and reseed the catalog between tests (new primary keys), which no
        # installation ever does; a server kept across tests must not serve a cached one.
        PIXDASH_CATALOG_TTL="0",
    )
    env.update(overrides)
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def _spawn(name: str, args: list[str], env: dict, tmp: Path) -> Process:
    log_path = tmp / f"{name}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(name, popen, log_path)


def _wait_for(check, what: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{what}: process exited early\n{process.log()[-4000:]}")
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready after {timeout}s\n{process.log()[-4000:]}")


def start_web(tmp: Path, **env: str) -> Process:
    port = _free_port()
    process = _spawn(
        "web",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "pixdash.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        child_env(**env),
        tmp,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/v1/models", timeout=1).status_code == 401
        except httpx.HTTPError:
            return False

    _wait_for(answers, "web server", process)
    process.extra["url"] = url
    return process


def start_worker(tmp: Path, **env: str) -> Process:
    process = _spawn(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "pixdash",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "4",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"e2e-{time.monotonic_ns()}@localhost",
        ],
        child_env(**env),
        tmp,
    )
    _wait_for(lambda: " ready." in process.log(), "celery worker", process)
    return process


def start_beat(tmp: Path, **env: str) -> Process:
    """Celery beat as its own process, as deployed, with a schedule file of its own."""
    process = _spawn(
        "beat",
        [sys.executable, "-m", "celery", "-A", "pixdash", "beat", "--loglevel", "INFO"]
        + ["--schedule", str(tmp / f"beat-{time.monotonic_ns()}")],
        child_env(**env),
        tmp,
    )
    _wait_for(lambda: "beat: Starting..." in process.log(), "celery beat", process)
    return process


@pytest.fixture(scope="session")
def e2e_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


# Module scope: a test that starts its own worker (the crash test) must not share the
# queue with a worker left running by another module.
@pytest.fixture(scope="module")
def web(django_db_setup, e2e_tmp):
    process = start_web(e2e_tmp)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def worker(django_db_setup, e2e_tmp):
    process = start_worker(e2e_tmp)
    yield process
    process.stop()


@pytest.fixture
def api_url(web, transactional_db) -> str:
    return web.extra["url"] + "/v1"


@pytest.fixture
def small_renders(transactional_db):
    """Make every model render about 256 px: the catalog is operator-editable, and the
    offline renderer's cost grows with pixels, which these tests do not care about."""
    from generator.models import ImageModel

    for image_model in ImageModel.objects.all():
        image_model.sizes = {"1:1": "256x256", "16:9": "448x256", "9:16": "256x448"}
        image_model.default_aspect_ratio = "1:1"
        image_model.save()
