"""Services a fault-injection test starts, breaks and starts again itself.

Each helper runs its own server on a free port in a temporary folder: a redis-server
(broker, cache) or a PostgreSQL cluster made with initdb. Tests kill and restart only
these, never the shared services a developer or CI runs.
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout}s")


class RedisServer:
    """A non-persistent redis-server, like the default Debian one after a crash: whatever
    it held is gone when it is killed."""

    def __init__(self):
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pixdash-redis-"))
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> "RedisServer":
        with open(self.folder / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--dir", str(self.folder)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait(lambda: _accepts(self.port), "redis-server")
        return self

    def kill(self) -> None:
        """SIGKILL: no save, no goodbye to clients (a crash or an OOM kill)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        _wait(lambda: not _accepts(self.port), "redis-server to go away")

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb into a temporary folder, trust auth on
    127.0.0.1, a free port), stopped with immediate shutdown to cut every connection."""

    def __init__(self):
        self.initdb, self.pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            pytest.skip("PostgreSQL server binaries are not installed")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pixdash-pg-"))
        self.data = self.folder / "data"
        self._run(
            [self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            + ["--no-sync", "--no-locale"]
        )

    def _run(self, args: list[str]) -> None:
        # initdb and postgres refuse to run as root: drop to an unprivileged user then.
        if os.geteuid() == 0:
            shutil.chown(self.folder, "nobody")
            for path in self.folder.rglob("*"):
                shutil.chown(path, "nobody")
            args = ["runuser", "-u", "nobody", "--", *args]
        subprocess.run(args, check=True, capture_output=True, timeout=120)

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> "PostgresCluster":
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        self._run(
            [self.pg_ctl, "-D", str(self.data), "-o", options, "-w", "-t", "60"]
            + ["-l", str(self.folder / "postgres.log"), "start"]
        )
        _wait(lambda: _accepts(self.port), "postgres")
        return self

    def stop(self, mode: str = "immediate") -> None:
        self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"])
        _wait(lambda: not _accepts(self.port), "postgres to go away")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def own_redis():
    server = RedisServer().start()
    yield server
    server.stop()
