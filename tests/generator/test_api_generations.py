"""POST /v1/images/generations: the OpenAI-compatible sync endpoint, end to end.

Everything below the provider is real (validation, holds, storage, settlement); the
provider is fake_gemini. The money invariants are checked after every test in this file.
"""

import base64
import io
import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from PIL import Image

from billing import ledger
from generator import jobs
from generator.models import Generation, OutputImage, Source, Status
from pixdash.accounts.keys import create_api_key
from tests.conftest import Key
from tests.generator.conftest import SAFETY_BLOCK, UPSTREAM_500, assert_error, fail_index

URL = "/v1/images/generations"

pytestmark = pytest.mark.usefixtures("audit_ledger")


def generate(client, key: Key | None, body, **headers):
    payload = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        URL,
        data=payload,
        content_type="application/json",
        headers={**(key.headers if key else {}), **headers},
    )


def balance(person) -> Decimal:
    return ledger.balance(person.team)


# --- Happy path ----------------------------------------------------------------------


def test_it_returns_an_images_response_for_nano_banana(client, alice, alice_key, fake_gemini):
    response = generate(client, alice_key, {"model": "nano-banana", "prompt": "a red bicycle"})

    assert response.status_code == 200, response.content
    assert response["X-Request-Id"].startswith("req_")
    body = response.json()
    assert {"created", "data", "id", "model", "usage"} <= set(body)
    assert isinstance(body["created"], int)
    assert body["id"].startswith("gen_")
    assert body["model"] == "gemini-2.5-flash-image"  # the canonical id, not the alias
    assert body["usage"] == {"images": 1, "credits": "2.00"}
    assert len(body["data"]) == 1
    assert set(body["data"][0]) == {"url", "revised_prompt"}
    assert body["data"][0]["revised_prompt"] is None
    assert body["data"][0]["url"].startswith("http://testserver/media/signed/")

    generation = Generation.objects.get()
    assert body["id"] == f"gen_{generation.public_id}"
    assert generation.status == Status.COMPLETED
    assert generation.requested_model == "nano-banana"
    assert len(fake_gemini.calls) == 1
    assert fake_gemini.calls[0].prompt == "a red bicycle"
    assert balance(alice) == Decimal("98.00")


def test_its_url_downloads_the_png_through_the_signed_link(client, alice_key, fake_gemini):
    body = generate(client, alice_key, {"model": "nano-banana", "prompt": "a fox"}).json()

    # An anonymous client: the signed link alone grants access.
    image = client.get(body["data"][0]["url"])

    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(image.content)).size == (1024, 1024)


def test_b64_json_decodes_to_an_image(client, alice_key, fake_gemini):
    response = generate(
        client,
        alice_key,
        {"model": "nano-banana", "prompt": "a fox", "response_format": "b64_json", "size": "16:9"},
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert set(data[0]) == {"b64_json", "revised_prompt"}
    image = Image.open(io.BytesIO(base64.b64decode(data[0]["b64_json"])))
    assert image.format == "PNG"
    assert image.size == (1344, 768)


def test_n_3_makes_three_images_and_charges_for_three(client, alice, alice_key, fake_gemini):
    response = generate(client, alice_key, {"model": "nano-banana", "prompt": "cats", "n": 3})

    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["data"]) == 3
    assert len({item["url"] for item in body["data"]}) == 3
    assert body["usage"] == {"images": 3, "credits": "6.00"}
    assert len(fake_gemini.calls) == 3
    assert OutputImage.objects.count() == 3
    assert balance(alice) == Decimal("94.00")


def test_n_4_with_one_failed_image_returns_and_charges_the_other_three(
    client, alice, alice_key, fake_gemini
):
    fake_gemini.script = fail_index(2, UPSTREAM_500)

    response = generate(client, alice_key, {"model": "nano-banana", "prompt": "cats", "n": 4})

    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["data"]) == 3
    assert body["usage"] == {"images": 3, "credits": "6.00"}
    assert balance(alice) == Decimal("94.00")
    assert ledger.credits_on_hold(alice.team) == 0


def test_unknown_fields_are_ignored(client, alice_key, fake_gemini):
    response = generate(
        client,
        alice_key,
        {"model": "nano-banana", "prompt": "a fox", "seed": 7, "stream": False, "x-extra": [1]},
    )

    assert response.status_code == 200, response.content


def test_another_teams_key_charges_that_team_only(
    client, alice, alice_key, charlie, charlie_key, fake_gemini
):
    response = generate(client, charlie_key, {"model": "nano-banana", "prompt": "a fox"})

    assert response.status_code == 200, response.content
    assert Generation.objects.get().team == charlie.team
    assert balance(charlie) == Decimal("98.00")
    assert balance(alice) == Decimal("100.00")


# --- Validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "a fox"}, "model"),
        ({"model": "nano-banana"}, "prompt"),
        ({"model": "nano-banana", "prompt": ""}, "prompt"),
        ({"model": "nano-banana", "prompt": "   "}, "prompt"),
        ({"model": "nano-banana", "prompt": "x" * 32001}, "prompt"),
        ({"model": "nano-banana", "prompt": "a fox", "n": 0}, "n"),
        ({"model": "nano-banana", "prompt": "a fox", "n": 11}, "n"),
        ({"model": "nano-banana", "prompt": "a fox", "n": -1}, "n"),
        ({"model": "nano-banana", "prompt": "a fox", "n": True}, "n"),
        ({"model": "nano-banana", "prompt": "a fox", "n": 2.5}, "n"),
        ({"model": "nano-banana", "prompt": "a fox", "n": "lots"}, "n"),
        ({"model": "nano-banana", "prompt": "a fox", "size": "huge"}, "size"),
        ({"model": "nano-banana", "prompt": "a fox", "size": "1024x"}, "size"),
        ({"model": "nano-banana", "prompt": "a fox", "size": "0x0"}, "size"),
        ({"model": "nano-banana", "prompt": "a fox", "response_format": "gif"}, "response_format"),
        ({"model": "nano-banana", "prompt": "a fox", "output_format": "bmp"}, "output_format"),
        ({"model": 5, "prompt": "a fox"}, "model"),
        ({"model": "nano-banana", "prompt": ["a", "fox"]}, "prompt"),
    ],
)
def test_an_invalid_field_is_a_400_naming_it(client, alice, alice_key, fake_gemini, body, param):
    response = generate(client, alice_key, body)

    error = assert_error(response, 400, "invalid_request_error", param)
    assert error["type"] == "invalid_request_error"
    assert response["x-should-retry"] == "false"
    assert fake_gemini.calls == []
    assert not Generation.objects.exists()
    assert balance(alice) == Decimal("100.00")


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"{", b'["model", "prompt"]', b'"a string"', b"null", b"", b"\xff\xfe"],
)
def test_a_body_that_is_not_a_json_object_is_a_400(client, alice_key, fake_gemini, payload):
    response = generate(client, alice_key, payload)

    assert_error(response, 400, "invalid_request_error")
    assert response["x-should-retry"] == "false"
    assert fake_gemini.calls == []


@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key", "team", "cost"])
def test_fields_that_could_redirect_routing_or_billing_are_refused(
    client, alice, alice_key, fake_gemini, field
):
    body = {"model": "nano-banana", "prompt": "a fox", field: "https://evil.test/v1"}

    response = generate(client, alice_key, body)

    assert_error(response, 400, "invalid_request_error", field)
    assert fake_gemini.calls == []
    assert balance(alice) == Decimal("100.00")


# --- Auth, credits, permissions ------------------------------------------------------


def test_it_401s_without_a_key(client, alice, fake_gemini):
    response = generate(client, None, {"model": "nano-banana", "prompt": "a fox"})

    assert_error(response, 401, "invalid_api_key")
    assert response["x-should-retry"] == "false"
    assert fake_gemini.calls == []
    assert balance(alice) == Decimal("100.00")


def test_it_402s_when_the_balance_is_too_small(client, alice, alice_key, fake_gemini):
    ledger.adjust(team=alice.team, amount="-99.00", reason="leave one credit", actor=None)

    response = generate(client, alice_key, {"model": "nano-banana", "prompt": "a fox", "n": 2})

    error = assert_error(response, 402, "insufficient_credits")
    assert error["message"] == "Not enough credits: 4.00 needed, 1.00 available."
    assert error["type"] == "insufficient_credits"
    assert response["x-should-retry"] == "false"
    assert fake_gemini.calls == []
    assert not Generation.objects.exists()
    assert balance(alice) == Decimal("1.00")


def test_it_404s_for_an_unknown_model(client, alice_key, fake_gemini):
    response = generate(client, alice_key, {"model": "dall-e-9", "prompt": "a fox"})

    error = assert_error(response, 404, "model_not_found", "model")
    assert "dall-e-9" in error["message"]
    assert response["x-should-retry"] == "false"


def test_it_403s_for_a_model_the_key_may_not_use(client, alice, fake_gemini):
    key = Key(
        *create_api_key(
            team=alice.team, created_by=alice.user, name="cheap", allowed_models=["local-preview"]
        )
    )

    response = generate(client, key, {"model": "nano-banana", "prompt": "a fox"})

    assert_error(response, 403, "permission_denied", "model")
    assert response["x-should-retry"] == "false"
    assert fake_gemini.calls == []
    assert balance(alice) == Decimal("100.00")


def test_a_key_allowed_a_model_by_alias_may_use_its_canonical_id(client, alice, fake_gemini):
    key = Key(
        *create_api_key(
            team=alice.team, created_by=alice.user, name="banana", allowed_models=["nano-banana"]
        )
    )

    response = generate(client, key, {"model": "gemini-2.5-flash-image", "prompt": "x"})

    assert response.status_code == 200, response.content


def test_it_403s_once_the_keys_monthly_limit_would_be_exceeded(client, alice, fake_gemini):
    key = Key(
        *create_api_key(
            team=alice.team, created_by=alice.user, name="capped", monthly_credit_limit=Decimal("5")
        )
    )

    first = generate(client, key, {"model": "nano-banana", "prompt": "a fox", "n": 2})
    second = generate(client, key, {"model": "nano-banana", "prompt": "a fox"})

    assert first.status_code == 200, first.content
    assert_error(second, 403, "permission_denied")
    assert second["x-should-retry"] == "false"
    assert len(fake_gemini.calls) == 2
    assert balance(alice) == Decimal("96.00")


# --- Provider failures ---------------------------------------------------------------


def test_a_safety_block_is_a_422_and_nothing_is_charged(client, alice, alice_key, fake_gemini):
    fake_gemini.script = lambda request: SAFETY_BLOCK

    response = generate(client, alice_key, {"model": "nano-banana", "prompt": "bad", "n": 2})

    assert_error(response, 422, "prompt_rejected")
    assert response["x-should-retry"] == "false"
    generation = Generation.objects.get()
    assert generation.status == Status.FAILED
    assert generation.credits_charged == 0
    assert not OutputImage.objects.exists()
    assert balance(alice) == Decimal("100.00")
    assert ledger.credits_on_hold(alice.team) == 0


def test_an_upstream_500_is_a_503_and_nothing_is_charged(client, alice, alice_key, fake_gemini):
    fake_gemini.script = lambda request: UPSTREAM_500

    response = generate(client, alice_key, {"model": "nano-banana", "prompt": "a fox", "n": 2})

    error = assert_error(response, 503, "model_unavailable")
    assert error["type"] == "server_error"
    assert "Nothing was charged" in error["message"]
    assert response.get("x-should-retry") != "false"
    assert Generation.objects.get().status == Status.FAILED
    assert balance(alice) == Decimal("100.00")
    assert ledger.credits_on_hold(alice.team) == 0


def test_without_demo_mode_or_provider_keys_gemini_models_are_503(
    client, alice, alice_key, settings
):
    settings.PIXDASH_DEMO_MODE = False
    settings.PIXDASH_GEMINI_API_KEY = ""
    settings.PIXDASH_OPENAI_API_KEY = ""

    response = generate(client, alice_key, {"model": "nano-banana", "prompt": "a fox"})

    assert_error(response, 503, "model_unavailable", "model")
    assert not Generation.objects.exists()
    assert balance(alice) == Decimal("100.00")


def test_in_demo_mode_gemini_models_render_offline_and_say_so(client, alice_key, settings):
    settings.PIXDASH_DEMO_MODE = True
    settings.PIXDASH_GEMINI_API_KEY = ""

    response = generate(client, alice_key, {"model": "nano-banana", "prompt": "a fox"})

    assert response.status_code == 200, response.content
    assert response.json()["demo"] is True


# --- Idempotency ---------------------------------------------------------------------


def test_an_idempotency_key_replays_the_first_answer_with_one_charge(
    client, alice, alice_key, fake_gemini
):
    body = {"model": "nano-banana", "prompt": "a fox", "n": 2}

    first = generate(client, alice_key, body, **{"Idempotency-Key": "order-42"})
    second = generate(client, alice_key, body, **{"Idempotency-Key": "order-42"})

    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["usage"] == {"images": 2, "credits": "4.00"}
    assert len(fake_gemini.calls) == 2
    assert Generation.objects.count() == 1
    assert balance(alice) == Decimal("96.00")


def test_the_same_idempotency_key_with_another_body_is_a_400(client, alice, alice_key, fake_gemini):
    generate(
        client, alice_key, {"model": "nano-banana", "prompt": "a fox"}, **{"Idempotency-Key": "k1"}
    )

    response = generate(
        client, alice_key, {"model": "nano-banana", "prompt": "a cat"}, **{"Idempotency-Key": "k1"}
    )

    assert_error(response, 400, "invalid_request_error", "Idempotency-Key")
    assert response["x-should-retry"] == "false"
    assert Generation.objects.count() == 1
    assert balance(alice) == Decimal("98.00")


def test_idempotency_keys_are_scoped_to_the_team(
    client, alice, alice_key, charlie, charlie_key, fake_gemini
):
    body = {"model": "nano-banana", "prompt": "a fox"}

    mine = generate(client, alice_key, body, **{"Idempotency-Key": "shared"})
    theirs = generate(client, charlie_key, body, **{"Idempotency-Key": "shared"})

    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["id"] != theirs.json()["id"]
    assert balance(alice) == balance(charlie) == Decimal("98.00")


def test_a_duplicate_while_the_first_still_runs_is_a_retryable_409(
    client, alice, alice_key, fake_gemini
):
    # The first request is mid-flight: submitted and held, not finished.
    spec = jobs.GenerationSpec(model="nano-banana", prompt="a fox", size="auto")
    jobs.submit(
        team=alice.team,
        spec=spec,
        source=Source.API,
        is_async=False,
        api_key=alice_key.api_key,
        idempotency_key="busy",
    )

    response = generate(
        client,
        alice_key,
        {"model": "nano-banana", "prompt": "a fox"},
        **{"Idempotency-Key": "busy"},
    )

    assert_error(response, 409, "idempotency_in_progress")
    assert response.get("x-should-retry") != "false"
    assert fake_gemini.calls == []
    assert Generation.objects.count() == 1


@pytest.mark.parametrize("value", ["", "   ", "k" * 256])
def test_a_malformed_idempotency_key_is_a_400(client, alice, alice_key, fake_gemini, value):
    response = generate(
        client, alice_key, {"model": "nano-banana", "prompt": "a fox"}, **{"Idempotency-Key": value}
    )

    assert_error(response, 400, "invalid_request_error", "Idempotency-Key")
    assert fake_gemini.calls == []
    assert balance(alice) == Decimal("100.00")


# --- Rate limit and method -----------------------------------------------------------


def test_it_429s_with_retry_after_past_the_keys_rate_limit(
    client, alice_key, charlie_key, fake_gemini, settings
):
    settings.PIXDASH_API_RATE_LIMIT = 2
    body = {"model": "local-preview", "prompt": "a fox"}

    answers = [generate(client, alice_key, body) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    error = assert_error(answers[2], 429, "rate_limited")
    assert error["type"] == "rate_limit_error"
    # The window opened with the first request and lasts a minute.
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert answers[2].get("x-should-retry") != "false"
    # Another team's key has its own window.
    assert generate(client, charlie_key, body).status_code == 200


def test_get_is_a_405_in_the_error_envelope(client, alice_key):
    response = client.get(URL, headers=alice_key.headers)

    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


def test_a_json_body_over_1_mb_is_a_413(client, alice_key, fake_gemini):
    body = {"model": "nano-banana", "prompt": "a fox", "padding": "x" * (1024 * 1024)}

    response = generate(client, alice_key, body)

    assert_error(response, 413, "request_too_large")
    assert response["x-should-retry"] == "false"
    assert fake_gemini.calls == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "nano-banana", "prompt": "a fox\u0000"}, "prompt"),
        ({"model": "nano-banana", "prompt": "a fox", "user": "user\u0000id"}, "user"),
        ({"model": "nano-\u0000banana", "prompt": "a fox"}, "model"),
    ],
)
def test_a_nul_character_is_a_400_not_a_500(client, alice, alice_key, fake_gemini, body, param):
    # PostgreSQL text columns cannot store NUL; this was a 500 at the INSERT there.
    response = generate(client, alice_key, body)

    assert_error(response, 400, "invalid_request_error", param)
    assert fake_gemini.calls == []
    assert balance(alice) == Decimal("100.00")


# --- Under ASGI ----------------------------------------------------------------------


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_it_answers_the_same_through_the_asgi_handler(
    async_client, alice, alice_key, fake_gemini
):
    # The async client runs the view on the event loop as the ASGI server does; its
    # database work happens on another thread, hence a transactional database here.
    try:
        response = await async_client.post(
            URL,
            data={"model": "nano-banana", "prompt": "a fox", "n": 2},
            content_type="application/json",
            headers=alice_key.headers,
        )

        assert response.status_code == 200, response.content
        assert response["X-Request-Id"].startswith("req_")
        assert response.json()["usage"] == {"images": 2, "credits": "4.00"}
        assert await sync_to_async(ledger.balance)(alice.team) == Decimal("96.00")
    finally:
        # The test client keeps Django from closing connections after a request: hand
        # back that thread's connection, or the test database cannot be dropped.
        await sync_to_async(connections.close_all)()


@pytest.mark.parametrize("path", [URL, "/v1/images/quote", "/v1/images/edits"])
def test_json_nested_100000_deep_is_a_400(client, alice_key, fake_gemini, path):
    body = "[" * 100_000 + "]" * 100_000

    response = client.post(
        path, data=body, content_type="application/json", headers=alice_key.headers
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The JSON body is nested too deeply."
