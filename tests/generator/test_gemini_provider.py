"""The Gemini adapter against a fake at the httpx transport (docs/API.md §3): request shape,
every answer mapping, retries, timeouts; and through the pipeline with the real adapter."""

import asyncio
import base64
import logging
from decimal import Decimal

import httpx
import pytest
from asgiref.sync import async_to_sync

from billing import ledger
from generator.models import Generation, ProviderCall
from generator.providers import http, registry
from generator.providers.base import ErrorCode, ImageRequest, InputImage, ProviderError
from generator.providers.gemini import GeminiProvider
from tests.generator.conftest import assert_error, png_bytes, post_generation
from tests.generator.fake_upstream import FakeUpstream, run_adapter

KEY = "AIza-test-secret-key-123"
BASE = "https://gemini.test"
PNG = png_bytes(32, 32)


def image_answer(data: bytes = PNG, *, camel: bool = True, extra_parts=()) -> dict:
    inline = (
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(data).decode()}}
        if camel
        else {"inline_data": {"mime_type": "image/png", "data": base64.b64encode(data).decode()}}
    )
    parts = [*extra_parts, inline]
    return {
        "candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}],
        "responseId": "resp-abc",
    }


def google_error(code: int, status: str, reason: str = "") -> dict:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return {
        "error": {
            "code": code,
            "message": "API key not valid." if reason else "Something.",
            "status": status,
            "details": details if reason else [],
        }
    }


class Upstream(FakeUpstream):
    pass


def provider(upstream: Upstream, **policy) -> GeminiProvider:
    return GeminiProvider(
        api_key=KEY,
        base_url=BASE + "/",
        transport=httpx.MockTransport(upstream),
        policy=http.RetryPolicy(**{"attempts": 3, "deadline": 60, **policy}),
    )


def request(**fields) -> ImageRequest:
    defaults = {
        "upstream_model": "gemini-2.5-flash-image",
        "prompt": "a lighthouse",
        "width": 1344,
        "height": 768,
        "aspect_ratio": "16:9",
    }
    return ImageRequest(**{**defaults, **fields})


def generate(upstream: Upstream, req: ImageRequest | None = None, **policy):
    return run_adapter(provider(upstream, **policy), req or request())


def failure(upstream: Upstream, req: ImageRequest | None = None, **policy) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        generate(upstream, req, **policy)
    return caught.value


pytestmark = pytest.mark.usefixtures("sleeps")


# --- Request shape --------------------------------------------------------------------


def test_it_posts_generate_content_with_the_key_in_a_header_never_the_url():
    upstream = Upstream(image_answer())
    generate(upstream)

    sent = upstream.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == f"{BASE}/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert sent.headers["x-goog-api-key"] == KEY
    assert KEY not in str(sent.url)
    assert "key=" not in str(sent.url)
    assert sent.headers["content-type"] == "application/json"
    assert upstream.bodies[0] == {
        "contents": [{"role": "user", "parts": [{"text": "a lighthouse"}]}],
        "generationConfig": {
            "responseModalities": ["IMAGE"],
            "imageConfig": {"aspectRatio": "16:9"},
        },
    }


@pytest.mark.parametrize(
    ("ratio", "width", "height", "sent"),
    [
        ("21:9", 1536, 672, "21:9"),
        ("4:5", 896, 1152, "4:5"),
        ("2:1", 2048, 1024, "16:9"),  # unsupported ratio: nearest by width/height
        ("", 1000, 1500, "2:3"),
        ("", 1024, 1024, "1:1"),
        ("", 512, 2048, "9:16"),
    ],
)
def test_it_sends_the_nearest_supported_aspect_ratio(ratio, width, height, sent):
    upstream = Upstream(image_answer())
    generate(upstream, request(aspect_ratio=ratio, width=width, height=height))

    assert upstream.bodies[0]["generationConfig"]["imageConfig"]["aspectRatio"] == sent


def test_edits_send_each_input_image_as_an_inline_data_part():
    first, second = png_bytes(8, 8), b"\xff\xd8\xff-jpeg-bytes"
    images = (
        InputImage(data=first, mime_type="image/png", width=8, height=8),
        InputImage(data=second, mime_type="image/jpeg", width=8, height=8),
    )
    upstream = Upstream(image_answer())
    generate(upstream, request(prompt="make it night", images=images))

    assert upstream.bodies[0]["contents"][0]["parts"] == [
        {"text": "make it night"},
        {"inline_data": {"mime_type": "image/png", "data": base64.b64encode(first).decode()}},
        {"inline_data": {"mime_type": "image/jpeg", "data": base64.b64encode(second).decode()}},
    ]


# --- Answers --------------------------------------------------------------------------


def test_it_returns_the_image_and_the_response_id():
    image = generate(Upstream(image_answer()))

    assert image.data == PNG
    assert image.mime_type == "image/png"
    assert image.upstream_request_id == "resp-abc"


def test_a_request_id_header_wins_over_the_response_id():
    upstream = Upstream(
        httpx.Response(200, json=image_answer(), headers={"x-goog-request-id": "goog-77"})
    )
    assert generate(upstream).upstream_request_id == "goog-77"


def test_it_skips_text_and_thought_parts_and_reads_snake_case_too():
    thought_image = {
        "inlineData": {"mimeType": "image/png", "data": base64.b64encode(b"draft").decode()},
        "thought": True,
    }
    extra = [{"text": "thinking", "thought": True}, thought_image, {"text": "Here you go"}]
    image = generate(Upstream(image_answer(camel=False, extra_parts=extra)))

    assert image.data == PNG


def test_it_walks_every_candidate_for_an_image():
    answer = image_answer()
    answer["candidates"].insert(0, {"content": {"parts": [{"text": "no"}]}, "finishReason": "STOP"})
    assert generate(Upstream(answer)).data == PNG


@pytest.mark.parametrize(
    "answer",
    [
        {"promptFeedback": {"blockReason": "SAFETY"}},
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "candidates": []},
        {"candidates": [{"finishReason": "IMAGE_SAFETY"}]},
        {"candidates": [{"finishReason": "IMAGE_PROHIBITED_CONTENT"}]},
        {"candidates": [{"finishReason": "PROHIBITED_CONTENT"}]},
        {"candidates": [{"finishReason": "SAFETY", "content": {"parts": [{"text": "no"}]}}]},
        {"candidates": [{"finishReason": "BLOCKLIST"}]},
    ],
)
def test_safety_blocks_are_prompt_rejected_and_not_retried(answer, sleeps):
    upstream = Upstream(answer)
    error = failure(upstream)

    assert error.code == ErrorCode.PROMPT_REJECTED
    assert error.retryable is False
    assert len(upstream.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"candidates": [{"finishReason": "NO_IMAGE"}]}, "NO_IMAGE"),
        ({"candidates": [{"finishReason": "IMAGE_OTHER"}]}, "IMAGE_OTHER"),
        ({"candidates": [{"finishReason": "OTHER"}]}, "OTHER"),
        ({"candidates": [{"finishReason": "IMAGE_RECITATION"}]}, "IMAGE_RECITATION"),
        (
            {"candidates": [{"content": {"parts": [{"text": "A poem"}]}, "finishReason": "STOP"}]},
            "",
        ),
        ({"candidates": []}, ""),
        ({}, ""),
    ],
)
def test_answers_without_an_image_are_no_image(answer, reason):
    error = failure(Upstream(answer))

    assert error.code == ErrorCode.NO_IMAGE
    assert error.retryable is False
    if reason:
        assert reason in error.message


def test_text_only_answers_quote_the_models_text():
    answer = {"candidates": [{"content": {"parts": [{"text": "I cannot draw that"}]}}]}
    assert "I cannot draw that" in failure(Upstream(answer)).message


def test_invalid_base64_or_a_non_image_part_is_no_image():
    answer = {
        "candidates": [
            {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "%%%"}}]}}
        ]
    }  # noqa: E501
    assert failure(Upstream(answer)).code == ErrorCode.NO_IMAGE
    answer = {
        "candidates": [
            {"content": {"parts": [{"inlineData": {"mimeType": "text/html", "data": "aGk="}}]}}
        ]
    }  # noqa: E501
    assert failure(Upstream(answer)).code == ErrorCode.NO_IMAGE


def test_a_200_that_is_not_json_is_a_retryable_upstream_failure():
    error = failure(Upstream(httpx.Response(200, text="<html>proxy</html>")))
    assert error.code == ErrorCode.UPSTREAM_UNAVAILABLE
    assert error.retryable is True


# --- Errors ---------------------------------------------------------------------------


def test_a_bad_key_is_misconfigured_with_a_loud_log_that_never_shows_the_key(caplog):
    upstream = Upstream(
        httpx.Response(400, json=google_error(400, "INVALID_ARGUMENT", "API_KEY_INVALID"))
    )
    with caplog.at_level(logging.ERROR, logger="generator.providers.gemini"):
        error = failure(upstream)

    assert error.code == ErrorCode.MISCONFIGURED
    assert error.retryable is False
    assert error.upstream_status == 400
    assert len(upstream.requests) == 1
    assert any(
        r.levelno == logging.ERROR and "PIXDASH_GEMINI_API_KEY" in r.getMessage()
        for r in caplog.records
    )
    assert KEY not in caplog.text
    assert KEY not in error.message


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_unknown_model_errors_are_misconfigured(status, caplog):
    with caplog.at_level(logging.ERROR):
        error = failure(Upstream(httpx.Response(status, json=google_error(status, "X"))))
    assert error.code == ErrorCode.MISCONFIGURED
    assert caplog.records


@pytest.mark.parametrize("status", [400, 409, 413, 422])
def test_other_4xx_are_bad_requests_and_not_retried(status, sleeps):
    upstream = Upstream(httpx.Response(status, json=google_error(status, "INVALID_ARGUMENT")))
    error = failure(upstream)

    assert error.code == ErrorCode.BAD_REQUEST
    assert error.retryable is False
    assert error.upstream_status == status
    assert len(upstream.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [429, 500, 503, 504])
def test_passing_failures_are_retried_with_backoff_then_upstream_unavailable(status, sleeps):
    upstream = Upstream(httpx.Response(status, json=google_error(status, "UNAVAILABLE")))
    error = failure(upstream)

    assert len(upstream.requests) == 3
    assert len(sleeps) == 2
    assert all(0 <= s <= http.BACKOFF_CAP for s in sleeps)
    assert error.code == ErrorCode.UPSTREAM_UNAVAILABLE
    assert error.retryable is True
    assert error.upstream_status == status


def test_a_retry_that_succeeds_returns_the_image(sleeps):
    upstream = Upstream(
        httpx.Response(503, json=google_error(503, "UNAVAILABLE")),
        httpx.Response(429, json=google_error(429, "RESOURCE_EXHAUSTED")),
        image_answer(),
    )
    assert generate(upstream).data == PNG
    assert len(upstream.requests) == 3
    assert len(sleeps) == 2


def test_backoff_is_full_jitter_and_grows(monkeypatch):
    ceilings = []
    monkeypatch.setattr(http.random, "uniform", lambda low, high: ceilings.append(high) or high)
    assert [http.backoff_delay(k) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_retry_after_is_honoured(sleeps):
    upstream = Upstream(httpx.Response(429, json={}, headers={"Retry-After": "3"}), image_answer())
    generate(upstream)
    assert sleeps[0] >= 3


def test_no_retry_starts_past_the_deadline(sleeps):
    upstream = Upstream(httpx.Response(429, json={}, headers={"Retry-After": "120"}))
    error = failure(upstream, deadline=30)

    assert len(upstream.requests) == 1  # waiting 120 s would blow the 30 s deadline
    assert error.code == ErrorCode.UPSTREAM_UNAVAILABLE


@pytest.mark.parametrize(
    ("exception", "word"),
    [
        (httpx.ReadTimeout("read timed out"), "timed out"),
        (httpx.ConnectTimeout("connect timed out"), "timed out"),
        (httpx.ConnectError("refused"), "could not be reached"),
        (httpx.RemoteProtocolError("peer closed"), "could not be reached"),
    ],
)
def test_timeouts_and_connection_errors_are_retried_then_unavailable(exception, word, sleeps):
    upstream = Upstream(exception)
    error = failure(upstream)

    assert len(upstream.requests) == 3
    assert error.code == ErrorCode.UPSTREAM_UNAVAILABLE
    assert error.retryable is True
    assert word in error.message


def test_each_attempt_uses_the_configured_timeouts_cut_to_the_deadline():
    upstream = Upstream(image_answer())
    generate(upstream, deadline=50)
    timeout = upstream.requests[0].extensions["timeout"]

    assert timeout["connect"] == pytest.approx(10, abs=0.5)
    assert timeout["read"] == pytest.approx(50, abs=0.5)  # min(120 s, time left)

    upstream = Upstream(image_answer())
    generate(upstream, deadline=500)
    assert upstream.requests[0].extensions["timeout"]["read"] == 120


def test_a_real_hang_times_out_within_the_deadline(sleeps):
    async def hang(request):
        await asyncio.sleep(30)

    class Hanging(httpx.AsyncBaseTransport):
        calls = 0

        async def handle_async_request(self, request):
            Hanging.calls += 1
            timeout = request.extensions["timeout"]["read"]
            try:
                await asyncio.wait_for(hang(request), timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out", request=request) from None

    async def go():
        adapter = GeminiProvider(
            api_key=KEY,
            base_url=BASE,
            transport=Hanging(),
            policy=http.RetryPolicy(attempts=3, deadline=1.2),
        )
        try:
            await adapter.generate(request())
        finally:
            await adapter.aclose()

    with pytest.raises(ProviderError) as caught:
        async_to_sync(go)()
    assert caught.value.code == ErrorCode.UPSTREAM_UNAVAILABLE
    assert "timed out" in caught.value.message
    assert Hanging.calls == 1  # the second attempt would start with < 1 s left


def test_the_client_follows_the_event_loop_and_is_closed_by_aclose():
    upstream = Upstream(image_answer())
    adapter = provider(upstream)

    async def one():
        await adapter.generate(request())
        return adapter._client._client

    first = async_to_sync(one)()
    second = async_to_sync(one)()  # a new loop (a new Celery task) gets a new client
    assert first is not second

    async def close():
        await adapter.aclose()

    async_to_sync(close)()
    assert second.is_closed


# --- Through the pipeline -------------------------------------------------------------


@pytest.fixture
def real_gemini(settings):
    """The real adapter behind every Gemini model, answering from a scripted transport."""
    settings.PIXDASH_DEMO_MODE = False
    holder = {}

    def install(handler):
        holder["transport"] = httpx.MockTransport(handler)
        registry.overrides["gemini"] = lambda: GeminiProvider(
            api_key=KEY,
            base_url=BASE,
            transport=holder["transport"],
            policy=http.RetryPolicy(attempts=2, deadline=30),
        )

    yield install
    registry.overrides.pop("gemini", None)


@pytest.mark.usefixtures("audit_ledger")
def test_n4_with_one_image_blocked_delivers_3_and_charges_3(client, alice, alice_key, real_gemini):
    calls = []

    def handler(req):
        calls.append(req)
        if len(calls) == 2:
            return httpx.Response(200, json={"candidates": [{"finishReason": "NO_IMAGE"}]})
        return httpx.Response(200, json=image_answer(png_bytes(1344, 768)))

    real_gemini(handler)
    response = post_generation(
        client, alice_key, {"model": "nano-banana", "prompt": "pears", "n": 4, "size": "16:9"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["data"]) == 3
    assert body["usage"] == {"images": 3, "credits": "6.00"}
    assert ledger.balance(alice.team) == Decimal("94.00")
    generation = Generation.objects.get()
    assert generation.images_delivered == 3
    assert generation.error_code == ErrorCode.NO_IMAGE
    assert "resp-abc" in generation.upstream_request_ids
    assert len(calls) == 4
    rows = ProviderCall.objects.order_by("ok")
    assert [(r.provider, r.model, r.ok, r.error_code) for r in rows] == [
        ("gemini", "gemini-2.5-flash-image", False, ErrorCode.NO_IMAGE)
    ] + [("gemini", "gemini-2.5-flash-image", True, "")] * 3
    assert all(r.latency_ms >= 0 for r in rows)


@pytest.mark.usefixtures("audit_ledger")
def test_a_safety_block_is_a_422_and_charges_nothing(client, alice, alice_key, real_gemini):
    real_gemini(lambda req: httpx.Response(200, json={"promptFeedback": {"blockReason": "SAFETY"}}))
    response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "bad"})

    assert_error(response, 422, "prompt_rejected")
    assert ledger.balance(alice.team) == Decimal("100.00")


@pytest.mark.usefixtures("audit_ledger")
def test_a_bad_key_is_a_503_model_unavailable_with_a_loud_log(
    client, alice, alice_key, real_gemini, caplog
):  # noqa: E501
    real_gemini(
        lambda req: httpx.Response(
            400, json=google_error(400, "INVALID_ARGUMENT", "API_KEY_INVALID")
        )
    )
    with caplog.at_level(logging.ERROR, logger="generator.providers.gemini"):
        response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "a cat"})

    error = assert_error(response, 503, "model_unavailable")
    assert "misconfigured" in error["message"]
    assert KEY not in response.content.decode()
    assert "PIXDASH_GEMINI_API_KEY" in caplog.text
    assert KEY not in caplog.text
    assert ledger.balance(alice.team) == Decimal("100.00")


def test_the_registry_routes_gemini_models_to_the_adapter_when_a_key_is_set(settings, db):
    from generator import catalog

    settings.PIXDASH_GEMINI_API_KEY = KEY
    settings.PIXDASH_DEMO_MODE = False
    route = registry.route(catalog.resolve("nano-banana"))
    assert isinstance(route.provider, GeminiProvider)
    assert (route.name, route.demo) == ("gemini", False)

    settings.PIXDASH_GEMINI_API_KEY = ""
    with pytest.raises(registry.ProviderUnavailable):
        registry.route(catalog.resolve("nano-banana"))
    settings.PIXDASH_DEMO_MODE = True
    assert registry.route(catalog.resolve("nano-banana")).demo is True
