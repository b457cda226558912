"""A real S3 endpoint for tests: moto's server mode, started on a free port.

The app talks to it over HTTP exactly as to AWS or MinIO (django-storages, boto3,
presigned URLs fetched with a plain HTTP client); nothing in the client is mocked.
``moto_s3`` is one server per test session; ``s3_media`` points the default storage at a
fresh bucket for one test, the way PIXDASH_S3_* does in production.
"""

import ctypes
import ctypes.util
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from django.test import override_settings

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "pixdash-test", "AWS_SECRET_ACCESS_KEY": "pixdash-test-secret"}
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_bucket(self) -> str:
        name = f"pixdash-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> set[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def env(self, bucket: str) -> dict[str, str]:
        """The variables an operator sets for this bucket."""
        return {
            "PIXDASH_S3_BUCKET": bucket,
            "PIXDASH_S3_ENDPOINT_URL": self.url,
            "PIXDASH_S3_REGION": REGION,
            **CREDENTIALS,
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the test run ends in any way, even killed by a
    timeout before its fixtures could stop it (PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)


def start_moto_server(log_path: Path) -> MotoServer:
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited:\n{log_path.read_text(errors='replace')}")
        try:
            httpx.get(url, timeout=1)
            return MotoServer(url, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("moto server did not start within 60 s")


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    server = start_moto_server(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def s3_media(moto_s3, monkeypatch, settings):
    """The default storage on a fresh bucket, configured as pixdash/settings.py does from
    PIXDASH_S3_BUCKET, PIXDASH_S3_ENDPOINT_URL and PIXDASH_S3_REGION."""
    from pixdash.settings import s3_storage

    bucket = moto_s3.create_bucket()
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    storages = {
        **settings.STORAGES,
        "default": s3_storage(bucket=bucket, endpoint_url=moto_s3.url, region=REGION),
    }
    with override_settings(
        STORAGES=storages,
        PIXDASH_S3_BUCKET=bucket,
        PIXDASH_S3_ENDPOINT_URL=moto_s3.url,
        PIXDASH_S3_REGION=REGION,
    ):
        yield bucket
