"""A job never runs past its deadline, and no upstream answer can hold a call or the
process's memory: each call is bounded as a whole in time (not just per read), and its
body is capped as received and as decompressed."""

import asyncio
import gzip
import time
from decimal import Decimal

import httpx
import pytest

from billing import ledger
from generator.providers import http
from generator.providers.base import ErrorCode, ProviderError
from generator.providers.openai_compat import OpenAICompatProvider
from tests.conftest import STARTING_CREDITS
from tests.generator.fake_upstream import run_adapter
from tests.generator.test_jobs import run_now, submit_sync
from tests.generator.test_openai_compat_provider import b64_answer, request

pytestmark = pytest.mark.usefixtures("audit_ledger")


def test_a_job_stops_at_its_deadline_and_charges_only_what_arrived(
    alice, fake_gemini, settings, monkeypatch
):
    settings.PIXDASH_JOB_TIME_LIMIT = 0.5
    real_generate = fake_gemini.generate

    async def one_hangs(request):
        if request.index == 1:
            await asyncio.sleep(600)  # an upstream that never answers
        return await real_generate(request)

    monkeypatch.setattr(fake_gemini, "generate", one_hangs)
    started = time.monotonic()

    generation = run_now(submit_sync(alice, n=2))

    assert time.monotonic() - started < 5
    assert (generation.status, generation.images_delivered) == ("completed", 1)
    assert generation.credits_charged == Decimal("2")
    assert "ran out of time" in generation.error_message
    assert ledger.balance(alice.team) == STARTING_CREDITS - 2


def test_a_job_whose_every_image_is_late_fails_and_is_not_charged(alice, fake_gemini, settings):
    settings.PIXDASH_JOB_TIME_LIMIT = 0.3
    fake_gemini.delay = 600

    generation = run_now(submit_sync(alice, n=3))

    assert generation.status == "failed"
    assert generation.error_code == "timeout"
    assert ledger.balance(alice.team) == STARTING_CREDITS


def _adapter(handler, **policy) -> OpenAICompatProvider:
    return OpenAICompatProvider(
        api_key="sk-test",
        base_url="https://images.test/v1",
        transport=httpx.MockTransport(handler),
        policy=http.RetryPolicy(**{"attempts": 1, "deadline": 30, **policy}),
    )


def _streamed(chunks, *, delay: float = 0.0, headers=None) -> httpx.Response:
    async def body():
        for chunk in chunks:
            if delay:
                await asyncio.sleep(delay)
            yield chunk

    return httpx.Response(200, content=body(), headers=headers or {})


def test_a_drip_feeding_upstream_is_cut_at_the_calls_deadline():
    drip = _adapter(lambda request: _streamed([b"{"] * 1000, delay=0.2), deadline=0.8)
    started = time.monotonic()

    with pytest.raises(ProviderError) as raised:
        run_adapter(drip, request())

    assert time.monotonic() - started < 3
    assert raised.value.code == ErrorCode.UPSTREAM_UNAVAILABLE
    assert "timed out" in raised.value.message


def test_an_answer_larger_than_the_cap_is_refused_while_it_streams():
    sent = []

    def huge(request):
        def count(chunk):
            sent.append(len(chunk))
            return chunk

        return _streamed(count(b"x" * 65536) for _ in range(1000))  # 64 MB

    with pytest.raises(ProviderError) as raised:
        run_adapter(_adapter(huge, max_bytes=1024 * 1024), request())

    assert raised.value.code == ErrorCode.NO_IMAGE
    assert sum(sent) <= 2 * 1024 * 1024  # stopped reading soon after the cap


def test_a_gzip_bomb_is_refused_before_it_expands():
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024))  # 200 MB of zeros in ~200 KB

    def answer(request):
        chunks = [bomb[i : i + 16384] for i in range(0, len(bomb), 16384)]
        return _streamed(chunks, headers={"Content-Encoding": "gzip"})

    with pytest.raises(ProviderError) as raised:
        run_adapter(_adapter(answer, max_bytes=4 * 1024 * 1024), request())

    assert raised.value.code == ErrorCode.NO_IMAGE
    assert "larger than 4 MB" in raised.value.message


def test_a_compressed_answer_within_the_cap_is_read():
    import orjson

    body = gzip.compress(orjson.dumps(b64_answer()))

    def answer(request):
        return _streamed([body], headers={"Content-Encoding": "gzip"})

    image = run_adapter(_adapter(answer), request())

    assert image.data.startswith(b"\x89PNG")
