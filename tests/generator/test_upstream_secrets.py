"""A verbose, hostile upstream echoes our Authorization header and key in its error
bodies: the provider key reaches no API response, no row and no log line, and an upstream
400 is answered as a deterministic 400 (no SDK retry), not a 503."""

import json
import logging

import httpx
import pytest
from django.apps import apps
from django.core import serializers

from generator.providers import registry
from generator.providers.gemini import GeminiProvider
from generator.providers.openai_compat import OpenAICompatProvider
from tests.generator.conftest import post_generation

OPENAI_KEY = "sk-verysecret-abcdef0123456789"
GEMINI_KEY = "AIzaSyVerySecretGeminiKey0123456789"


def echoing(status: int, key: str):
    """An upstream that answers ``status`` and repeats everything it was sent."""

    def handler(request: httpx.Request) -> httpx.Response:
        sent = dict(request.headers)
        text = f"Invalid request, you sent {sent} with key {key} to {request.url}"
        body = {"error": {"message": text, "code": key, "type": key, "status": key}}
        return httpx.Response(status, json=body, headers={"x-debug": sent.get("authorization", "")})

    return handler


@pytest.fixture
def hostile(settings):
    settings.PIXDASH_DEMO_MODE = False
    settings.PIXDASH_OPENAI_API_KEY = OPENAI_KEY
    settings.PIXDASH_GEMINI_API_KEY = GEMINI_KEY
    settings.PIXDASH_PROVIDER_ATTEMPTS = 1

    def install(status: int) -> None:
        registry.overrides["openai"] = lambda: OpenAICompatProvider(
            api_key=OPENAI_KEY,
            base_url="https://images.test/v1",
            transport=httpx.MockTransport(echoing(status, OPENAI_KEY)),
        )
        registry.overrides["gemini"] = lambda: GeminiProvider(
            api_key=GEMINI_KEY,
            base_url="https://gemini.test",
            transport=httpx.MockTransport(echoing(status, GEMINI_KEY)),
        )

    yield install
    registry.overrides.pop("openai", None)
    registry.overrides.pop("gemini", None)


def _every_row() -> str:
    models = [m for m in apps.get_models() if m._meta.managed]
    return "".join(serializers.serialize("json", m.objects.all()) for m in models)


@pytest.mark.parametrize("status", [400, 401, 404, 422, 500])
@pytest.mark.parametrize("model", ["gpt-image-1.5", "nano-banana"])
def test_the_provider_key_reaches_no_response_row_or_log(
    client, alice, alice_key, hostile, caplog, status, model
):
    hostile(status)
    with caplog.at_level(logging.DEBUG):
        response = post_generation(client, alice_key, {"model": model, "prompt": "a teapot"})

    assert response.status_code >= 400
    for secret in (OPENAI_KEY, GEMINI_KEY):
        assert secret not in response.content.decode()
        assert secret not in json.dumps(dict(response.headers))
        assert secret not in _every_row()
        assert secret not in caplog.text
    assert "you sent" not in response.content.decode()


@pytest.mark.parametrize("model", ["gpt-image-1.5", "nano-banana"])
def test_an_upstream_400_is_a_deterministic_400(client, alice, alice_key, hostile, model):
    hostile(400)
    response = post_generation(client, alice_key, {"model": model, "prompt": "a teapot"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "upstream_bad_request"
    assert error["type"] == "invalid_request_error"
    assert "HTTP 400" in error["message"]
    assert response["x-should-retry"] == "false"
