"""The official openai package against the live ASGI server and a real Celery worker."""

import base64
import io
import time
from decimal import Decimal

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from billing import ledger
from generator.models import Generation, OutputImage
from tests.ledger_audit import assert_ledger_invariants

pytestmark = pytest.mark.usefixtures("small_renders")


@pytest.fixture
def sdk(api_url, alice_key):
    with OpenAI(base_url=api_url, api_key=alice_key.raw, max_retries=0, timeout=60) as client:
        yield client


def _png(color=(30, 120, 200), size=(96, 96)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def test_generate_returns_a_url_that_downloads_a_png_and_charges_2_credits(sdk, alice):
    result = sdk.images.generate(model="nano-banana", prompt="a lighthouse at dusk")

    assert result.model == "gemini-2.5-flash-image"
    assert len(result.data) == 1
    download = httpx.get(result.data[0].url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert download.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert ledger.balance(alice.team) == Decimal("98.00")
    assert_ledger_invariants()


def test_n3_with_b64_json_returns_three_decodable_images(sdk, alice):
    result = sdk.images.generate(
        model="nano-banana", prompt="three pears", n=3, response_format="b64_json"
    )

    assert len(result.data) == 3
    for item in result.data:
        image = Image.open(io.BytesIO(base64.b64decode(item.b64_json)))
        assert image.format == "PNG"
    assert ledger.balance(alice.team) == Decimal("94.00")
    assert_ledger_invariants()


def test_edit_with_one_image(sdk, alice):
    result = sdk.images.edit(
        model="nano-banana", image=("in.png", _png(), "image/png"), prompt="make it warmer"
    )

    assert len(result.data) == 1
    generation = Generation.objects.get()
    assert generation.inputs.count() == 1
    assert ledger.balance(alice.team) == Decimal("98.00")


def test_edit_with_three_images(sdk, alice):
    images = [(f"in{i}.png", _png((60 * i, 90, 160)), "image/png") for i in range(3)]
    result = sdk.images.edit(model="nano-banana", image=images, prompt="blend them")

    assert len(result.data) == 1
    assert Generation.objects.get().inputs.count() == 3
    assert_ledger_invariants()


def test_async_generation_completes_through_the_worker(sdk, worker, alice):
    task = sdk.post(
        "/async/images/generations",
        body={"model": "nano-banana", "prompt": "a paper boat", "n": 2},
        cast_to=object,
    )
    assert task["object"] == "image.task"
    assert task["status"] == "submitted"

    deadline = time.monotonic() + 60
    while task["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.25)
        task = sdk.get(f"/tasks/{task['id']}", cast_to=object)

    assert task["status"] == "completed", task
    assert task["usage"] == {"images": 2, "credits": "4.00"}
    assert len(task["result"]["data"]) == 2
    assert httpx.get(task["result"]["data"][0]["url"]).status_code == 200
    assert ledger.balance(alice.team) == Decimal("96.00")
    assert OutputImage.objects.count() == 2
    assert_ledger_invariants()


def test_errors_arrive_as_the_sdks_exceptions_with_request_ids(sdk, api_url, alice):
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.images.generate(model="nano-banana", prompt="x", n=11)
    with (
        OpenAI(base_url=api_url, api_key="pd_live_nope", max_retries=0) as stranger,
        pytest.raises(openai.AuthenticationError) as unauthorized,
    ):
        stranger.images.generate(model="nano-banana", prompt="x")
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.images.generate(model="no-such-model", prompt="x")
    ledger.adjust(team=alice.team, amount=Decimal("-99.00"), reason="test: drain", actor=None)
    with pytest.raises(openai.APIStatusError) as broke:
        sdk.images.generate(model="nano-banana", prompt="x")

    assert broke.value.status_code == 402
    assert broke.value.body["code"] == "insufficient_credits"
    assert "Not enough credits: 2.00 needed, 1.00 available." in broke.value.message
    for raised in (bad, unauthorized, missing, broke):
        assert raised.value.request_id.startswith("req_")
        assert raised.value.body["request_id"] == raised.value.request_id
    assert bad.value.body["param"] == "n"
    assert Generation.objects.count() == 0
    assert ledger.balance(alice.team) == Decimal("1.00")
    assert_ledger_invariants()


def test_idempotency_key_replays_without_a_second_charge(sdk, alice):
    headers = {"Idempotency-Key": "order-1234"}
    first = sdk.images.generate(model="nano-banana", prompt="a kite", extra_headers=headers)
    second = sdk.images.generate(model="nano-banana", prompt="a kite", extra_headers=headers)

    assert first.model_extra["id"] == second.model_extra["id"]
    assert Generation.objects.count() == 1
    assert ledger.balance(alice.team) == Decimal("98.00")
