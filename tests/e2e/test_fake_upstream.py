"""The real adapters against bench/fake_upstream.py, a real HTTP server speaking Gemini's
and OpenAI's wire contracts, with the live ASGI server and Celery worker in between and
the official openai SDK in front. Nothing here reaches a real provider."""

import base64
import io
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from billing import ledger
from generator.models import Generation, ProviderCall
from tests.e2e.conftest import ROOT, _free_port, start_web, start_worker
from tests.ledger_audit import assert_ledger_invariants

KEY = "fake-upstream-key"


@pytest.fixture(scope="module")
def upstream(e2e_tmp):
    port = _free_port()
    log = open(e2e_tmp / f"upstream-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "bench/fake_upstream.py", "--port", str(port), "--key", KEY]
        + ["--gemini-scale", "0.25"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "fake upstream died"
        time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)
    log.close()


def _env(upstream: str, gemini_key: str = KEY) -> dict:
    return {
        "PIXDASH_GEMINI_BASE_URL": upstream,
        "PIXDASH_GEMINI_API_KEY": gemini_key,
        "PIXDASH_OPENAI_BASE_URL": upstream + "/v1",
        "PIXDASH_OPENAI_API_KEY": KEY,
        "PIXDASH_DEMO_MODE": "0",
        "PIXDASH_PROVIDER_DEADLINE": "20",
    }


@pytest.fixture(scope="module")
def live(django_db_setup, e2e_tmp, upstream):
    process = start_web(e2e_tmp, **_env(upstream))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def live_worker(django_db_setup, e2e_tmp, upstream):
    process = start_worker(e2e_tmp, **_env(upstream))
    yield process
    process.stop()


@pytest.fixture
def sdk(live, transactional_db, alice_key):
    base = live.extra["url"] + "/v1"
    with OpenAI(base_url=base, api_key=alice_key.raw, max_retries=0, timeout=60) as client:
        yield client


def test_gemini_images_come_back_real_and_are_charged(sdk, alice):
    result = sdk.images.generate(
        model="nano-banana", prompt="a lighthouse", size="16:9", response_format="b64_json"
    )

    assert result.model == "gemini-2.5-flash-image"
    image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))
    assert image.format == "PNG"
    assert image.size == (336, 192)  # the fake's 16:9 (1344x768) at --gemini-scale 0.25
    assert ledger.balance(alice.team) == Decimal("98.00")
    generation = Generation.objects.get()
    assert generation.provider == "gemini"
    assert generation.upstream_request_ids and generation.upstream_request_ids[0].startswith(
        "fake-"
    )
    assert ProviderCall.objects.filter(provider="gemini", ok=True).count() == 1
    assert_ledger_invariants()


def test_openai_compatible_generation_and_edit(sdk, alice):
    result = sdk.images.generate(model="gpt-image-1.5", prompt="a teapot", size="1536x1024")
    download = httpx.get(result.data[0].url)
    assert download.status_code == 200
    assert Image.open(io.BytesIO(download.content)).size == (1536, 1024)

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buffer, "PNG")
    edit = sdk.images.edit(
        model="gpt-image-1.5",
        image=[
            ("a.png", buffer.getvalue(), "image/png"),
            ("b.png", buffer.getvalue(), "image/png"),
        ],
        prompt="merge them",
    )
    assert len(edit.data) == 1
    assert ledger.balance(alice.team) == Decimal("98.00")
    assert_ledger_invariants()


@pytest.mark.parametrize(
    ("model", "prompt"),
    [
        ("nano-banana", "something [[block]]"),
        ("nano-banana", "something [[block-finish]]"),
        ("gpt-image-1.5", "something [[block]]"),
    ],
)
def test_a_safety_block_is_a_422_and_charges_nothing(sdk, alice, model, prompt):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk.images.generate(model=model, prompt=prompt)

    assert caught.value.body["code"] == "prompt_rejected"
    assert ledger.balance(alice.team) == Decimal("100.00")
    assert_ledger_invariants()


def test_n4_with_one_failed_image_returns_3_and_charges_3(sdk, alice):
    result = sdk.images.generate(model="nano-banana", prompt="pears [[fail-every=4]]", n=4)

    assert len(result.data) == 3
    assert ledger.balance(alice.team) == Decimal("94.00")
    generation = Generation.objects.get()
    assert (generation.images_delivered, generation.credits_charged) == (3, Decimal("6.00"))
    assert_ledger_invariants()


def test_a_passing_503_is_retried_inside_the_adapter(sdk, alice):
    result = sdk.images.generate(model="nano-banana", prompt="flaky [[fail-once]]")
    assert len(result.data) == 1
    assert ledger.balance(alice.team) == Decimal("98.00")


def test_an_async_job_runs_through_the_worker(sdk, live_worker, alice):
    task = sdk.post(
        "/async/images/generations",
        body={"model": "nano-banana", "prompt": "async [[sleep=0.2]]", "n": 2},
        cast_to=httpx.Response,
    ).json()
    deadline = time.monotonic() + 60
    while True:
        state = sdk.get(f"/tasks/{task['id']}", cast_to=httpx.Response).json()
        if state["status"] in ("completed", "failed"):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "completed", state
    assert len(state["result"]["data"]) == 2
    assert ledger.balance(alice.team) == Decimal("96.00")
    assert_ledger_invariants()


def test_a_bad_gemini_key_is_a_503_and_a_loud_log(
    e2e_tmp, upstream, transactional_db, alice, alice_key
):  # noqa: E501
    web = start_web(e2e_tmp, **_env(upstream, gemini_key="wrong-key-0000"))
    try:
        base = web.extra["url"] + "/v1"
        with (
            OpenAI(base_url=base, api_key=alice_key.raw, max_retries=0) as client,
            pytest.raises(openai.InternalServerError) as caught,
        ):
            client.images.generate(model="nano-banana", prompt="a cat")
        assert caught.value.status_code == 503
        assert caught.value.body["code"] == "model_unavailable"
        assert "wrong-key-0000" not in str(caught.value.body)
    finally:
        web.stop()
    log = web.log()
    assert "PIXDASH_GEMINI_API_KEY" in log
    assert "wrong-key-0000" not in log
    assert ledger.balance(alice.team) == Decimal("100.00")
    assert_ledger_invariants()


def test_a_sync_job_whose_client_gave_up_still_finishes_stores_and_charges(
    live, transactional_db, alice_key, alice
):
    """The client hangs up while the upstream works: the job runs on, independent of the
    request that started it, and its image is stored and charged exactly once."""
    body = {"model": "nano-banana", "prompt": "slow [[sleep=2]]", "n": 2}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            live.extra["url"] + "/v1/images/generations",
            json=body,
            headers=alice_key.headers,
            timeout=httpx.Timeout(10, read=0.5),
        )

    deadline = time.monotonic() + 30
    while not Generation.objects.filter(status="completed").exists():
        assert time.monotonic() < deadline, "the abandoned job never finished"
        time.sleep(0.2)
    generation = Generation.objects.get()
    assert generation.images_delivered == 2
    assert generation.outputs.count() == 2
    assert ledger.balance(alice.team) == Decimal("96.00")
    assert_ledger_invariants()
