"""jobs.quote(): the price a page or the API shows is what submit() holds, fallbacks included."""

from decimal import Decimal

import pytest

from billing import ledger
from billing.models import MemberLimit
from generator import jobs
from generator.models import ImageModel
from tests.generator.test_jobs import submit as submit_queued


def spec(**fields) -> jobs.GenerationSpec:
    return jobs.GenerationSpec(**{"model": "nano-banana", "prompt": "a fox", **fields})


@pytest.fixture
def with_fallbacks(db):
    """nano-banana (2 credits) may fall back to nano-banana-pro (8)."""
    model = ImageModel.objects.get(public_id="gemini-2.5-flash-image")
    model.fallback_models = ["gemini-3-pro-image-preview"]
    model.save()
    return model


def test_a_quote_holds_the_fallback_chains_highest_price(alice, with_fallbacks, fake_gemini):
    quoted = jobs.quote(team=alice.team, spec=spec(n=3))

    assert quoted.plan.credits_per_image == Decimal("2")
    assert quoted.plan.credits == Decimal("6")
    assert quoted.plan.hold == Decimal("24")
    assert submit_queued(alice, n=3, is_async=False).credits_held == quoted.plan.hold


def test_a_quote_lists_every_reason_it_would_be_refused(alice, alice_key, fake_gemini):
    key = alice_key.api_key
    key.allowed_models = ["local-preview"]
    key.monthly_credit_limit = Decimal("3")
    key.save()
    MemberLimit.objects.create(team=alice.team, user=alice.user, monthly_credit_limit=1)

    quoted = jobs.quote(team=alice.team, spec=spec(model="nano-banana-pro", n=20), api_key=key)

    assert not quoted.allowed
    assert set(quoted.reasons) == {
        "model_not_allowed",
        "insufficient_credits",
        "key_limit",
        "member_cap",
    }
    assert ledger.balance(alice.team) == Decimal("100")  # a quote holds nothing


def test_a_quote_that_fits_is_allowed(alice, fake_gemini):
    quoted = jobs.quote(team=alice.team, spec=spec(n=2), user=alice.user)

    assert quoted.allowed and quoted.reasons == ()
    assert quoted.plan.hold == Decimal("4")


@pytest.mark.parametrize(
    ("size", "mapped"), [("16:9", False), ("1920x1080", False), ("5:1", True), ("auto", False)]
)
def test_a_quote_says_when_the_size_is_mapped_to_another_ratio(alice, size, mapped):
    quoted = jobs.quote(team=alice.team, spec=spec(size=size))

    assert quoted.plan.ratio_mapped is mapped


def test_an_invalid_request_is_refused_not_quoted(alice):
    with pytest.raises(jobs.ModelNotFound):
        jobs.quote(team=alice.team, spec=spec(model="dall-e-9"))
