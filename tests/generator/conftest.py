"""Pipeline fixtures: a scriptable provider standing in for Gemini, and the invariants.

The fake speaks our Provider protocol (generator/providers/base.py), so everything from
the API to storage and billing is real; adapter-level fakes at the httpx transport live
with the adapters' own tests.
"""

import asyncio
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from PIL import Image

from generator.providers import http, registry
from generator.providers.base import ErrorCode, ImageRequest, ProviderError, ProviderImage
from tests.ledger_audit import assert_ledger_invariants


def png_bytes(width: int = 64, height: int = 64, color=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class ScriptedProvider:
    """Answers each image with what ``script(request)`` returns: None for a PNG of the
    requested size, or a ProviderError to raise. Records every request it saw."""

    name: str = "gemini"
    script: Callable[[ImageRequest], ProviderError | None] = lambda request: None
    delay: float = 0.0
    calls: list[ImageRequest] = field(default_factory=list)

    async def generate(self, request: ImageRequest) -> ProviderImage:
        self.calls.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        error = self.script(request)
        if error is not None:
            raise error
        return ProviderImage(
            data=png_bytes(request.width, request.height),
            mime_type="image/png",
            upstream_request_id=f"fake-{request.index}",
        )


@pytest.fixture
def fake_gemini():
    """Route every Gemini model (nano-banana…) to a ScriptedProvider for the test."""
    provider = ScriptedProvider()
    registry.overrides["gemini"] = lambda: provider
    yield provider
    registry.overrides.pop("gemini", None)


def fail_index(index: int, error: ProviderError):
    return lambda request: error if request.index == index else None


SAFETY_BLOCK = ProviderError(
    "The prompt was blocked by the safety filter.", code=ErrorCode.PROMPT_REJECTED
)
UPSTREAM_500 = ProviderError(
    "Upstream answered 500.",
    code=ErrorCode.UPSTREAM_UNAVAILABLE,
    retryable=True,
    upstream_status=500,
)
UPSTREAM_TIMEOUT = ProviderError(
    "Upstream timed out.", code=ErrorCode.UPSTREAM_UNAVAILABLE, retryable=True
)


@pytest.fixture
def audit_ledger(db):
    """Check the money invariants after the test body."""
    yield
    assert_ledger_invariants()


def assert_error(response, status: int, code: str, param: str | None = None) -> dict:
    """An answer in the OpenAI error envelope of docs/API.md, with our request id; failures that
    would fail again tell the SDK not to retry."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code", "request_id"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert error["code"] == code
    assert error["param"] == param
    assert error["request_id"] == response["X-Request-Id"]
    assert error["request_id"].startswith("req_")
    if 400 <= status < 500 and status not in (409, 429):
        assert response["x-should-retry"] == "false"
    return error


# --- Browser-page fixtures ------------------------------------------------------------


@pytest.fixture
def ui_queue(monkeypatch) -> list[int]:
    """Generation ids the pages send to the broker; nothing reaches a real broker."""
    sent: list[int] = []

    def apply_async(args=None, kwargs=None, **options):
        sent.extend(args)

    monkeypatch.setattr("generator.tasks.run_generation.apply_async", apply_async)
    return sent


@pytest.fixture
def make_job(ui_queue, fake_gemini):
    """Submit a job as the generator page does and (by default) run it like the worker."""
    from generator import jobs
    from generator.models import Generation, Source

    def make(
        person,
        *,
        prompt="a lighthouse at dusk",
        model="nano-banana",
        n=1,
        run=True,
        source=Source.UI,
        api_key=None,
        size=None,
    ):
        spec = jobs.GenerationSpec(model=model, prompt=prompt, n=n, size=size)
        generation = jobs.submit(
            team=person.team,
            spec=spec,
            source=source,
            is_async=True,
            user=person.user,
            api_key=api_key,
        ).generation
        if run:
            ui_queue.remove(generation.pk)
            jobs.run(generation_id=generation.pk)
        return Generation.objects.get(pk=generation.pk)

    return make


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Provider backoff waits are recorded instead of slept."""
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(http, "backoff_sleep", fake_sleep)
    return waited


def post_generation(client, key, body: dict, *, path: str = "/v1/images/generations"):
    """POST a generation body (to /v1/images/generations, or ``path`` taking the same body)
    with ``key`` through Django's test client."""
    return client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        headers=key.headers,
    )
