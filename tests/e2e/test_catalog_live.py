"""Catalog edits reach a running server without a restart: the next request sees them.

Guards the contract of generator.catalog: whatever a process caches of the catalog, an
admin change must show up in every running web process and worker (here: within 10 s).
"""

import time

import httpx
import pytest

from generator.models import ImageModel
from tests.e2e.conftest import start_web


@pytest.fixture(scope="module")
def web(django_db_setup, e2e_tmp):
    """A server that caches the catalog as production does (PIXDASH_CATALOG_TTL's default;
    the other end-to-end tests' servers read it on every request)."""
    process = start_web(e2e_tmp, PIXDASH_CATALOG_TTL="5")
    yield process
    process.stop()


def _model(api_url: str, key, name: str) -> httpx.Response:
    return httpx.get(f"{api_url}/models/{name}", headers=key.headers, timeout=10)


def test_an_admin_change_shows_in_a_running_web_process(api_url, alice_key):
    assert _model(api_url, alice_key, "nano-banana").json()["credits_per_image"] == "2.00"

    model = ImageModel.objects.get(public_id="gemini-2.5-flash-image")
    model.credits_per_image = 3
    model.aliases = ["nano-banana", "banana-classic"]
    model.full_clean()
    model.save()

    deadline = time.monotonic() + 10
    while True:
        answer = _model(api_url, alice_key, "banana-classic")
        if answer.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.status_code == 200
    assert answer.json()["credits_per_image"] == "3.00"

    ImageModel.objects.filter(pk=model.pk).update(enabled=False)
    deadline = time.monotonic() + 10
    while _model(api_url, alice_key, "nano-banana").status_code != 404:
        assert time.monotonic() < deadline, "a disabled model is still served"
        time.sleep(0.2)
