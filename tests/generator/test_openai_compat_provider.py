"""The OpenAI-compatible adapter against a fake at the httpx transport (docs/API.md §2)."""

import base64
import json
import logging
from decimal import Decimal

import httpx
import pytest

from billing import ledger
from generator.models import Generation
from generator.providers import http, registry
from generator.providers.base import ErrorCode, ImageRequest, InputImage, ProviderError
from generator.providers.openai_compat import OpenAICompatProvider
from tests.generator.conftest import assert_error, png_bytes, post_generation
from tests.generator.fake_upstream import FakeUpstream, run_adapter

KEY = "sk-test-secret-0123456789"
BASE = "https://images.test/v1"
PNG = png_bytes(24, 24)


def b64_answer(data: bytes = PNG, **extra) -> dict:
    return {"created": 1, "data": [{"b64_json": base64.b64encode(data).decode(), **extra}]}


class Upstream(FakeUpstream):
    default_headers = {"x-request-id": "req_up_1"}


def openai_error(status: int, code: str, message: str = "nope") -> httpx.Response:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }  # noqa: E501
    return httpx.Response(status, json=body)


def request(**fields) -> ImageRequest:
    defaults = {
        "upstream_model": "gpt-image-1.5",
        "prompt": "a teapot",
        "width": 1536,
        "height": 1024,
        "aspect_ratio": "3:2",
    }
    return ImageRequest(**{**defaults, **fields})


def generate(upstream: Upstream, req: ImageRequest | None = None, **options):
    adapter = OpenAICompatProvider(
        api_key=KEY,
        base_url=BASE,
        transport=httpx.MockTransport(upstream),
        policy=http.RetryPolicy(attempts=3, deadline=60),
        **options,
    )
    return run_adapter(adapter, req or request())


def failure(upstream: Upstream, req: ImageRequest | None = None, **options) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        generate(upstream, req, **options)
    return caught.value


pytestmark = pytest.mark.usefixtures("sleeps")


# --- Request shape --------------------------------------------------------------------


def test_gpt_image_generations_post_json_with_bearer_and_no_response_format():
    upstream = Upstream(b64_answer())
    image = generate(upstream, request(quality="high", background="transparent"))

    sent = upstream.requests[0]
    assert str(sent.url) == f"{BASE}/images/generations"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(sent.url)
    assert json.loads(sent.content) == {
        "model": "gpt-image-1.5",
        "prompt": "a teapot",
        "n": 1,
        "size": "1536x1024",
        "quality": "high",
        "output_format": "png",
        "background": "transparent",
    }
    assert image.data == PNG
    assert image.upstream_request_id == "req_up_1"


def test_other_models_are_asked_for_b64_json():
    upstream = Upstream(b64_answer(revised_prompt="a fancy teapot"))
    image = generate(upstream, request(upstream_model="dall-e-3", width=1024, height=1024))

    body = json.loads(upstream.requests[0].content)
    assert body["response_format"] == "b64_json"
    assert "output_format" not in body
    assert image.revised_prompt == "a fancy teapot"


def test_edits_post_multipart_with_every_image_and_the_mask():
    images = (
        InputImage(data=png_bytes(8, 8), mime_type="image/png", width=8, height=8),
        InputImage(data=b"\xff\xd8\xffjpeg", mime_type="image/jpeg", width=8, height=8),
    )
    mask = InputImage(data=png_bytes(8, 8, (0, 0, 0)), mime_type="image/png", width=8, height=8)
    upstream = Upstream(b64_answer())
    generate(upstream, request(images=images, mask=mask, prompt="add a hat"))

    sent = upstream.requests[0]
    assert str(sent.url) == f"{BASE}/images/edits"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    content = sent.content
    assert content.count(b'name="image[]"') == 2
    assert b'name="mask"; filename="mask.png"' in content
    assert images[0].data in content and images[1].data in content and mask.data in content
    assert b'name="prompt"\r\n\r\nadd a hat' in content
    assert b'name="n"\r\n\r\n1' in content
    assert b'name="response_format"' not in content


# --- URL answers ----------------------------------------------------------------------


def test_a_url_answer_is_downloaded_at_once_without_our_key():
    image_bytes = png_bytes(40, 40)

    def serve(req):
        if req.url.host == "cdn.example":
            return httpx.Response(200, content=image_bytes, headers={"content-type": "image/png"})
        return httpx.Response(200, json={"data": [{"url": "https://cdn.example/x.png"}]})

    upstream = Upstream(serve)
    image = generate(upstream, request(upstream_model="dall-e-2", width=512, height=512))

    assert image.data == image_bytes
    download = upstream.requests[1]
    assert download.url.host == "cdn.example"
    assert "authorization" not in download.headers


def test_a_download_past_the_cap_is_aborted():
    chunks_sent = []

    def big(req):
        if req.url.host == "cdn.example":

            async def stream():
                for _ in range(100):
                    chunks_sent.append(1)
                    yield b"x" * 1024

            return httpx.Response(200, content=stream(), headers={"content-type": "image/png"})
        return httpx.Response(200, json={"data": [{"url": "https://cdn.example/big.png"}]})

    error = failure(Upstream(big), request(upstream_model="dall-e-2"), max_download_bytes=10 * 1024)

    assert error.code == ErrorCode.NO_IMAGE
    assert "larger than" in error.message
    assert len(chunks_sent) < 100  # stopped reading, did not buffer the whole body


def test_a_declared_oversize_download_is_refused_before_reading():
    def big(req):
        if req.url.host == "cdn.example":
            return httpx.Response(
                200, content=b"x" * 100, headers={"content-length": str(50 * 1024 * 1024)}
            )
        return httpx.Response(200, json={"data": [{"url": "https://cdn.example/big.png"}]})

    assert failure(Upstream(big), request(upstream_model="dall-e-2")).code == ErrorCode.NO_IMAGE


def test_a_failed_download_is_retryable_and_a_bad_url_is_no_image():
    def gone(req):
        if req.url.host == "cdn.example":
            return httpx.Response(503)
        return httpx.Response(200, json={"data": [{"url": "https://cdn.example/x.png"}]})

    error = failure(Upstream(gone), request(upstream_model="dall-e-2"))
    assert (error.code, error.retryable) == (ErrorCode.UPSTREAM_UNAVAILABLE, True)

    answer = {"data": [{"url": "file:///etc/passwd"}]}
    assert failure(Upstream(answer), request(upstream_model="dall-e-2")).code == ErrorCode.NO_IMAGE


@pytest.mark.parametrize(
    "answer", [{"data": []}, {"data": [{}]}, {"data": [{"b64_json": "%%"}]}, {}]
)
def test_answers_without_an_image_are_no_image(answer):
    assert failure(Upstream(answer)).code == ErrorCode.NO_IMAGE


# --- Errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_misconfigured_with_a_loud_log(status, caplog):
    with caplog.at_level(logging.ERROR, logger="generator.providers.openai_compat"):
        error = failure(Upstream(openai_error(status, "invalid_api_key")))

    assert error.code == ErrorCode.MISCONFIGURED
    assert error.retryable is False
    assert "PIXDASH_OPENAI_API_KEY" in caplog.text
    assert KEY not in caplog.text


def test_insufficient_quota_is_misconfigured():
    error = failure(Upstream(openai_error(429, "insufficient_quota")))
    assert error.code == ErrorCode.MISCONFIGURED


@pytest.mark.parametrize("code", ["content_policy_violation", "moderation_blocked"])
def test_safety_rejections_are_prompt_rejected(code, sleeps):
    upstream = Upstream(openai_error(400, code))
    error = failure(upstream)

    assert error.code == ErrorCode.PROMPT_REJECTED
    assert error.retryable is False
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_other_4xx_are_not_retried(status, sleeps):
    upstream = Upstream(openai_error(status, "invalid_value"))
    error = failure(upstream)

    expected = ErrorCode.MISCONFIGURED if status == 404 else ErrorCode.BAD_REQUEST
    assert error.code == expected
    assert error.retryable is False
    assert len(upstream.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_passing_failures_are_retried_then_upstream_unavailable(status, sleeps):
    upstream = Upstream(openai_error(status, "server_error"))
    error = failure(upstream)

    assert len(upstream.requests) == 3
    assert len(sleeps) == 2
    assert (error.code, error.retryable, error.upstream_status) == (
        ErrorCode.UPSTREAM_UNAVAILABLE,
        True,
        status,
    )


def test_a_timeout_then_success_returns_the_image(sleeps):
    upstream = Upstream(httpx.ReadTimeout("slow"), b64_answer())
    assert generate(upstream).data == PNG
    assert len(sleeps) == 1


def test_timeouts_every_time_are_upstream_unavailable():
    error = failure(Upstream(httpx.ReadTimeout("slow")))
    assert (error.code, error.retryable) == (ErrorCode.UPSTREAM_UNAVAILABLE, True)
    assert "timed out" in error.message


# --- Through the pipeline -------------------------------------------------------------


@pytest.fixture
def real_openai(settings):
    settings.PIXDASH_DEMO_MODE = False

    def install(handler):
        transport = httpx.MockTransport(handler)
        registry.overrides["openai"] = lambda: OpenAICompatProvider(
            api_key=KEY, base_url=BASE, transport=transport
        )

    yield install
    registry.overrides.pop("openai", None)


@pytest.mark.usefixtures("audit_ledger")
def test_gpt_image_through_the_api_charges_one_credit(client, alice, alice_key, real_openai):
    real_openai(lambda req: httpx.Response(200, json=b64_answer(png_bytes(1024, 1024))))
    response = post_generation(client, alice_key, {"model": "gpt-image-1.5", "prompt": "a teapot"})

    assert response.status_code == 200, response.content
    assert response.json()["model"] == "gpt-image-1.5"
    assert ledger.balance(alice.team) == Decimal("99.00")
    assert Generation.objects.get().provider == "openai"


@pytest.mark.usefixtures("audit_ledger")
def test_a_moderation_block_is_a_422(client, alice, alice_key, real_openai):
    real_openai(lambda req: openai_error(400, "moderation_blocked"))
    response = post_generation(client, alice_key, {"model": "gpt-image-1.5", "prompt": "bad"})

    assert_error(response, 422, "prompt_rejected")
    assert ledger.balance(alice.team) == Decimal("100.00")


def test_the_registry_routes_openai_models_when_a_key_is_set(settings, db):
    from generator import catalog

    settings.PIXDASH_OPENAI_API_KEY = KEY
    route = registry.route(catalog.resolve("gpt-image-1.5"))
    assert isinstance(route.provider, OpenAICompatProvider)
    assert route.name == "openai"
