"""Property-based requests generated from /v1/openapi.json never make the server fail."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import start_web

pytestmark = pytest.mark.usefixtures("small_renders")


@pytest.fixture
def unthrottled_api_url(e2e_tmp, transactional_db):
    """Its own server with the per-key rate limit out of the way, so generated requests
    reach the code behind it instead of a 429."""
    web = start_web(e2e_tmp, PIXDASH_API_RATE_LIMIT="1000000")
    yield web.extra["url"] + "/v1"
    web.stop()


def test_generated_requests_never_get_a_500(unthrottled_api_url, alice_key, tmp_path: Path):
    api_url = unthrottled_api_url
    result = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{api_url}/openapi.json",
            "--header", f"Authorization: Bearer {alice_key.raw}",
            "--checks", "not_a_server_error",
            "--max-examples", "20",
            "--seed", "1",
            "--workers", "1",
            "--request-timeout", "60",
            "--report", "junit", "--report-dir", str(tmp_path),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
