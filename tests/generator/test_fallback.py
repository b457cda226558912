"""Opt-in fallback models: at submit when the primary provider is not configured, at run
time when every image failed because the provider is down; billed at the model used."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing import ledger, rollup
from billing.models import EntryKind, LedgerEntry, UsageDaily
from generator.models import Generation, ImageModel, ProviderCall
from generator.providers import registry
from tests.generator.conftest import UPSTREAM_500, ScriptedProvider, assert_error, post_generation

pytestmark = pytest.mark.usefixtures("audit_ledger")


@pytest.fixture
def chain(db, settings):
    """nano-banana (2 credits) falls back to gpt-image-1.5 (1), then nano-banana-pro (8)."""
    settings.PIXDASH_DEMO_MODE = False
    model = ImageModel.objects.get(public_id="gemini-2.5-flash-image")
    model.fallback_models = ["gpt-image-1.5", "gemini-3-pro-image-preview"]
    model.save()
    return model


@pytest.fixture
def openai_fake():
    provider = ScriptedProvider(name="openai")
    registry.overrides["openai"] = lambda: provider
    yield provider
    registry.overrides.pop("openai", None)


def test_without_a_gemini_key_submit_falls_back_and_bills_the_fallback(
    client, alice, alice_key, chain, openai_fake
):
    response = post_generation(
        client, alice_key, {"model": "nano-banana", "prompt": "a fox", "n": 2}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "gpt-image-1.5"
    assert body["usage"] == {"images": 2, "credits": "2.00"}
    generation = Generation.objects.get()
    assert generation.requested_model == "nano-banana"
    assert (generation.provider, generation.upstream_model) == ("openai", "gpt-image-1.5")
    assert generation.credits_held == Decimal("16.00")  # max price of the rest of the chain
    assert generation.unit_price == Decimal("1.00")
    assert ledger.balance(alice.team) == Decimal("98.00")
    assert openai_fake.calls[0].upstream_model == "gpt-image-1.5"


def test_with_nothing_configured_it_is_still_a_503(client, alice, alice_key, chain):
    response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "a fox"})
    assert_error(response, 503, "model_unavailable", param="model")
    assert not Generation.objects.exists()


def test_a_model_without_fallbacks_holds_its_own_price(client, alice, alice_key, fake_gemini):
    response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "a fox"})
    assert response.status_code == 200
    assert Generation.objects.get().credits_held == Decimal("2.00")


def test_at_run_time_a_down_provider_falls_back_and_the_job_is_billed_at_the_fallback(
    client, alice, alice_key, chain, fake_gemini, openai_fake
):
    fake_gemini.script = lambda request: UPSTREAM_500
    response = post_generation(
        client, alice_key, {"model": "nano-banana", "prompt": "a fox", "n": 3}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "gpt-image-1.5"
    assert body["usage"] == {"images": 3, "credits": "3.00"}
    generation = Generation.objects.get()
    assert generation.image_model.public_id == "gpt-image-1.5"
    assert (generation.provider, generation.upstream_model) == ("openai", "gpt-image-1.5")
    assert generation.unit_price == Decimal("1.00")
    assert generation.credits_held == Decimal("24.00")
    assert (generation.width, generation.height) == (1024, 1024)
    assert generation.requested_model == "nano-banana"
    assert ledger.balance(alice.team) == Decimal("97.00")
    assert len(fake_gemini.calls) == 3 and len(openai_fake.calls) == 3
    calls = ProviderCall.objects.values_list("provider", "ok")
    assert sorted(calls) == [("gemini", False)] * 3 + [("openai", True)] * 3
    # The ledger and the usage rollup book the images to the model that made them.
    release = LedgerEntry.objects.get(reference=generation.public_id, kind=EntryKind.RELEASE)
    assert release.model == "gpt-image-1.5"
    rollup.roll_up()
    usage = UsageDaily.objects.get(team=alice.team)
    assert (usage.model, usage.images, usage.credits) == ("gpt-image-1.5", 3, Decimal("3.00"))


def test_a_safety_block_does_not_fall_back(
    client, alice, alice_key, chain, fake_gemini, openai_fake
):
    from tests.generator.conftest import SAFETY_BLOCK

    fake_gemini.script = lambda request: SAFETY_BLOCK
    response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "bad"})

    assert_error(response, 422, "prompt_rejected")
    assert openai_fake.calls == []
    assert ledger.balance(alice.team) == Decimal("100.00")


def test_a_partial_failure_does_not_fall_back(
    client, alice, alice_key, chain, fake_gemini, openai_fake
):
    fake_gemini.script = lambda request: UPSTREAM_500 if request.index == 0 else None
    response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "x", "n": 2})

    assert response.json()["model"] == "gemini-2.5-flash-image"
    assert openai_fake.calls == []
    assert ledger.balance(alice.team) == Decimal("98.00")


def test_when_the_whole_chain_fails_nothing_is_charged(
    client, alice, alice_key, chain, fake_gemini, openai_fake
):
    fake_gemini.script = lambda request: UPSTREAM_500
    openai_fake.script = lambda request: UPSTREAM_500
    response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "x"})

    assert_error(response, 503, "model_unavailable")
    assert ledger.balance(alice.team) == Decimal("100.00")
    generation = Generation.objects.get()
    assert generation.credits_charged == 0


def test_a_fallback_that_got_pricier_than_the_hold_is_skipped_at_run_time(
    alice, chain, fake_gemini, openai_fake, ui_queue, settings
):
    from generator import jobs

    settings.PIXDASH_JOB_MAX_ATTEMPTS = 1  # fail at once rather than retry later
    chain.fallback_models = ["gpt-image-1.5"]
    chain.save()
    fake_gemini.script = lambda request: UPSTREAM_500
    spec = jobs.GenerationSpec(model="nano-banana", prompt="x")
    submitted = jobs.submit(team=alice.team, spec=spec, source="api", is_async=True)
    assert submitted.generation.credits_held == Decimal("2.00")
    pricier = ImageModel.objects.get(public_id="gpt-image-1.5")
    pricier.credits_per_image = 5
    pricier.save()  # in the admin, while the job waits in the queue

    jobs.run(generation_id=submitted.generation.pk)

    generation = Generation.objects.get(pk=submitted.generation.pk)

    assert openai_fake.calls == []
    assert generation.status == "failed"
    assert generation.credits_charged == 0


# --- Validation -----------------------------------------------------------------------


def _model(public_id: str) -> ImageModel:
    return ImageModel.objects.get(public_id=public_id)


def test_fallbacks_must_exist_and_not_be_the_model_itself(db):
    model = _model("gemini-2.5-flash-image")
    model.fallback_models = ["nope"]
    with pytest.raises(ValidationError, match="Unknown"):
        model.full_clean()
    model.fallback_models = ["gemini-2.5-flash-image"]
    with pytest.raises(ValidationError, match="itself"):
        model.full_clean()
    model.fallback_models = ["gpt-image-1.5", "gpt-image-1.5"]
    with pytest.raises(ValidationError, match="once"):
        model.full_clean()
    model.fallback_models = "gpt-image-1.5"
    with pytest.raises(ValidationError, match="list"):
        model.full_clean()
    model.fallback_models = ["gpt-image-1.5", "local-preview"]
    model.full_clean()


def test_fallback_cycles_are_refused(db):
    ImageModel.objects.filter(public_id="gpt-image-1.5").update(
        fallback_models=["gemini-3-pro-image-preview"]
    )
    ImageModel.objects.filter(public_id="gemini-3-pro-image-preview").update(
        fallback_models=["gemini-2.5-flash-image"]
    )
    model = _model("gemini-2.5-flash-image")
    model.fallback_models = ["gpt-image-1.5"]
    with pytest.raises(ValidationError, match="cycle"):
        model.full_clean()
