"""POST /v1/images/quote: the hold a generation body would take, from the same planning
that submit() holds by."""

from decimal import Decimal

import pytest

from billing import ledger
from billing.models import MemberLimit
from generator.models import Generation, ImageModel
from tests.generator.conftest import assert_error, post_generation

pytestmark = pytest.mark.usefixtures("audit_ledger")


def quote(client, key, body: dict):
    return post_generation(client, key, body, path="/v1/images/quote")


def test_the_quoted_hold_is_what_a_generation_holds(client, alice, alice_key, fake_gemini):
    nano = ImageModel.objects.get(public_id="gemini-2.5-flash-image")
    nano.fallback_models = ["gemini-3-pro-image-preview"]
    nano.save()
    body = {"model": "nano-banana", "prompt": "a fox", "n": 2}

    quoted = quote(client, alice_key, body)

    assert quoted.status_code == 200, quoted.content
    assert quoted.json() == {
        "object": "image.quote",
        "model": "gemini-2.5-flash-image",
        "requested_model": "nano-banana",
        "n": 2,
        "credits_per_image": "2.00",
        "credits": "4.00",
        "hold": "16.00",  # the fallback chain's highest price, 8, times n
        "allowed": True,
        "reasons": [],
        "demo": False,
    }
    assert ledger.balance(alice.team) == Decimal("100")  # a quote holds nothing
    assert not Generation.objects.exists()
    post_generation(client, alice_key, body)
    assert Generation.objects.get().credits_held == Decimal("16.00")


def test_it_lists_every_reason_a_submission_would_be_refused(client, alice, alice_key):
    key = alice_key.api_key
    key.allowed_models = ["local-preview"]
    key.monthly_credit_limit = Decimal("3")
    key.save()
    MemberLimit.objects.create(team=alice.team, user=alice.user, monthly_credit_limit=1)
    ledger.adjust(team=alice.team, amount=-50, reason="spent elsewhere", actor=None)

    body = quote(client, alice_key, {"model": "nano-banana-pro", "prompt": "x", "n": 10}).json()

    assert body["allowed"] is False
    assert body["hold"] == "80.00"
    assert set(body["reasons"]) == {
        "model_not_allowed",
        "insufficient_credits",
        "key_limit",
        "member_cap",
    }


def test_a_model_served_offline_in_demo_mode_says_so(client, alice_key):
    body = quote(client, alice_key, {"model": "nano-banana", "prompt": "a fox"}).json()

    assert body["demo"] is True
    assert body["allowed"] is True


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"model": "dall-e-9", "prompt": "x"}, 404, "model_not_found", "model"),
        ({"model": "nano-banana", "prompt": ""}, 400, "invalid_request_error", "prompt"),
        ({"model": "nano-banana", "prompt": "x", "n": 11}, 400, "invalid_request_error", "n"),
        ({"model": "nano-banana", "prompt": "x", "cost": 0}, 400, "invalid_request_error", "cost"),
    ],
)
def test_an_invalid_body_is_refused_as_a_generation_would_be(
    client, alice_key, body, status, code, param
):
    assert_error(quote(client, alice_key, body), status, code, param)


def test_it_prices_for_the_keys_own_team(client, alice, charlie, charlie_key):
    ledger.adjust(team=charlie.team, amount=-50, reason="spent elsewhere", actor=None)

    body = quote(client, charlie_key, {"model": "nano-banana-pro", "prompt": "x", "n": 10}).json()

    assert body["reasons"] == ["insufficient_credits"]  # charlie's 50, not alice's 100


def test_quoting_needs_a_key(client, db):
    response = client.post("/v1/images/quote", data="{}", content_type="application/json")
    assert_error(response, 401, "invalid_api_key")
