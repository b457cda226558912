"""Everything the benchmark runs against, set up from nothing and torn down afterwards.

- a fresh PostgreSQL database on the shared server (``pixdash_bench_run``; only this one
  database is created and dropped),
- a private redis-server on a free port (nothing shared with other users of the machine),
- bench/fake_upstream.py,
- LiteLLM proxy, pinned, in its own virtualenv under var/bench/ (one worker, no database,
  one OpenAI-compatible model pointing at the fake upstream),
- Pixdash with production settings, started with the Procfile's ``web`` command (one
  process) and, when asked, its ``worker`` command.

Every process is started in its own session and stopped by its process-group id.
"""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "bench"
# A later LiteLLM release on the registry is reported compromised: this exact one only.
LITELLM_VERSION = "1.106.2"
UPSTREAM_KEY = "bench-upstream-key"
LITELLM_KEY = "sk-bench-litellm"
MODEL = "gpt-image-1.5"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout: float = 2) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, urllib.error.URLError):
        return None


@dataclass
class Service:
    name: str
    popen: subprocess.Popen
    log_path: Path
    url: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to this service's own process group, SIGKILL if it lingers."""
        if self.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def spawn(name: str, args: list[str], env: dict, *, cwd: Path = ROOT) -> Service:
    logs = VAR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(name, popen, log_path)


def wait_until(check, service: Service, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{what} exited early:\n{service.log()[-4000:]}")
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s:\n{service.log()[-4000:]}")


# --- PostgreSQL: one database of our own on the shared server -------------------------------


class Database:
    def __init__(self, name: str | None = None):
        self.server = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
        self.name = name or os.environ.get("BENCH_DB_NAME", "pixdash_bench_run")
        if not re.fullmatch(r"pixdash_bench\w*", self.name):
            raise ValueError("the benchmark only creates and drops databases named pixdash_bench*")

    @property
    def url(self) -> str:
        return f"{self.server}/{self.name}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(f"{self.server}/postgres", autocommit=True)

    def create(self) -> None:
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def version(self) -> str:
        with self._admin() as admin:
            return admin.execute("SHOW server_version").fetchone()[0]


# --- Redis: a private server on a free port -------------------------------------------------


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis() -> Service:
    port = free_port()
    data = VAR / "redis"
    data.mkdir(parents=True, exist_ok=True)
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(data), "--protected-mode", "no"]
    service = spawn("redis", args, dict(os.environ))
    wait_until(lambda: redis_ping(port), service, "redis-server")
    service.url = f"redis://127.0.0.1:{port}"
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    match = re.search(r"v=(\S+)", version.stdout)
    service.extra["version"] = match.group(1) if match else version.stdout.strip()
    return service


# --- The fake upstream --------------------------------------------------------------------------


def start_upstream() -> Service:
    port = free_port()
    args = [sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--port", str(port)]
    service = spawn("upstream", args + ["--key", UPSTREAM_KEY], dict(os.environ))
    service.url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_status(service.url + "/health") == 200, service, "fake upstream")
    return service


def upstream_stats(upstream: Service) -> dict:
    import json

    with urllib.request.urlopen(upstream.url + "/stats", timeout=5) as response:
        return json.loads(response.read())


# --- LiteLLM, pinned, in its own virtualenv -------------------------------------------------------


def litellm_venv() -> Path:
    """var/bench/litellm-<version>/, created and filled with exactly the pinned release."""
    venv = VAR / f"litellm-{LITELLM_VERSION}"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == LITELLM_VERSION:
            return venv
    print(f"installing LiteLLM {LITELLM_VERSION} into {venv} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    installed = subprocess.run(
        pip + [f"litellm[proxy]=={LITELLM_VERSION}"], capture_output=True, text=True
    )
    if installed.returncode:
        raise RuntimeError(f"installing LiteLLM failed:\n{installed.stderr[-4000:]}")
    found = subprocess.run(probe, capture_output=True, text=True, check=True)
    if found.stdout.strip() != LITELLM_VERSION:
        raise RuntimeError(f"LiteLLM {found.stdout.strip()} installed, not {LITELLM_VERSION}")
    return venv


def start_litellm(upstream: Service) -> Service:
    venv = litellm_venv()
    config = VAR / "litellm.yaml"
    # drop_params: gpt-image models refuse response_format (they always answer base64),
    # so LiteLLM drops it before calling the upstream, as it would in front of OpenAI.
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream.url}/v1\n"
        f"      api_key: {UPSTREAM_KEY}\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_KEY}\n"
    )
    port = free_port()
    # A clean environment: no DATABASE_URL or the like may reach it (no database).
    env = {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "LITELLM_LOG": "ERROR",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list at start
        "PYTHONUNBUFFERED": "1",
    }
    args = [str(venv / "bin" / "litellm"), "--config", str(config)]
    args += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    service = spawn("litellm", args, env)
    service.url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: http_status(service.url + "/health/liveliness") == 200,
        service,
        "LiteLLM",
        timeout=180,
    )
    service.extra["version"] = LITELLM_VERSION
    return service


# --- Pixdash with production settings ------------------------------------------------------------


def procfile_command(kind: str) -> str:
    """The Procfile's command for ``kind`` (web, worker): the bench starts Pixdash the way
    production does, and follows when that command changes."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == kind:
            return command.strip()
    raise RuntimeError(f"no '{kind}:' line in the Procfile")


@dataclass
class Pixdash:
    env: dict
    team: str = ""
    api_key: str = ""
    owner_email: str = "owner@bench.pixdash.test"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def prepare(self) -> None:
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        self.team = self.manage(
            "createteam",
            "--owner",
            self.owner_email,
            "--name",
            "Bench",
            "--password",
            secrets.token_urlsafe(16),
        ).split()[-1]
        self.manage(
            "grantcredits", "--team", self.team, "--credits", "100000000", "--reason", "bench"
        )
        self.api_key = self.manage("createapikey", "--team", self.team, "--name", "bench").split()[
            -1
        ]

    def start_web(self, *, name: str = "pixdash", command: str | None = None) -> Service:
        port = free_port()
        env = dict(self.env, PIXDASH_HOST="127.0.0.1", PIXDASH_PORT=str(port))
        command = command or os.environ.get("BENCH_PIXDASH_WEB") or procfile_command("web")
        service = spawn(name, ["/bin/sh", "-c", f"exec {command}"], env)
        service.url = f"http://127.0.0.1:{port}"
        service.extra["command"] = command
        # /v1/models without a key answers 401 once Django is up.
        wait_until(
            lambda: (http_status(service.url + "/v1/models") or 0) in (200, 401),
            service,
            f"Pixdash ({command})",
        )
        return service

    def start_worker(self) -> Service:
        command = os.environ.get("BENCH_PIXDASH_WORKER") or procfile_command("worker")
        service = spawn("worker", ["/bin/sh", "-c", f"exec {command}"], dict(self.env))
        service.extra["command"] = command
        wait_until(lambda: " ready." in service.log(), service, f"Celery worker ({command})")
        return service


def pixdash_env(*, database: Database, redis: Service, upstream: Service) -> dict:
    data = VAR / "data"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    data.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
        PYTHONUNBUFFERED="1",
        # No .env from the working tree: the bench's settings are all given here.
        PIXDASH_ENV_FILE="",
        PIXDASH_DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PIXDASH_HTTPS="0",
        DATABASE_URL=database.url,
        CACHE_URL=f"{redis.url}/1",
        CELERY_BROKER_URL=f"{redis.url}/0",
        PIXDASH_DATA_DIR=str(data),
        PIXDASH_OPENAI_BASE_URL=f"{upstream.url}/v1",
        PIXDASH_OPENAI_API_KEY=UPSTREAM_KEY,
        PIXDASH_DEMO_MODE="0",
        # One process: the figures are per web process, whatever serves production.
        WEB_CONCURRENCY="1",
        PIXDASH_WEB_WORKERS="1",
        # The per-key rate limit and the per-team cap on jobs in flight guard against one
        # tenant starving the others; the benchmark is one key of one team at full speed
        # (1,000 in flight), so both are raised out of the way.
        PIXDASH_API_RATE_LIMIT="1000000000",
        PIXDASH_TEAM_MAX_JOBS_IN_FLIGHT="1000000",
    )
    return env
