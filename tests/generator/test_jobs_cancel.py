"""jobs.cancel(): a queued job is canceled at once; a running one stops asking the provider,
keeps and charges what it delivered and releases the rest; a finished one refuses."""

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from billing import ledger
from billing.models import EntryKind, LedgerEntry
from generator import jobs
from generator.jobs import render
from generator.models import Generation, OutputImage, Status
from tests.conftest import STARTING_CREDITS
from tests.generator.test_jobs import submit

pytestmark = pytest.mark.usefixtures("audit_ledger")


def release_of(generation: Generation) -> Decimal:
    return LedgerEntry.objects.get(reference=generation.public_id, kind=EntryKind.RELEASE).amount


def test_a_queued_job_is_canceled_at_once_and_releases_its_whole_hold(alice, fake_gemini):
    generation = submit(alice, n=3)  # 6 credits held

    canceled = jobs.cancel(generation=generation)

    assert canceled.status == Status.CANCELED
    assert canceled.credits_charged == 0
    assert release_of(generation) == Decimal("6")
    assert ledger.balance(alice.team) == STARTING_CREDITS
    jobs.run(generation_id=generation.pk)  # the queued message arrives anyway
    assert fake_gemini.calls == []


def test_a_running_job_stops_and_charges_only_what_it_delivered(alice, fake_gemini, monkeypatch):
    monkeypatch.setattr(render, "CANCEL_POLL_SECONDS", 0.01)
    generation = submit(alice, n=3)  # 6 credits held
    slow = asyncio.Event()  # never set: images 1 and 2 hang until they are stopped

    def cancel_it():
        jobs.cancel(generation=Generation.objects.get(pk=generation.pk))

    async def deliver_one_then_hang(request):
        if request.index == 0:
            return None
        if request.index == 1:
            await sync_to_async(cancel_it)()
        await slow.wait()

    real_generate = fake_gemini.generate

    async def generate(request):
        await deliver_one_then_hang(request)
        return await real_generate(request)

    monkeypatch.setattr(fake_gemini, "generate", generate)

    jobs.run(generation_id=generation.pk)

    generation.refresh_from_db()
    assert generation.status == Status.CANCELED
    assert generation.images_delivered == 1
    assert generation.credits_charged == Decimal("2")
    assert OutputImage.objects.filter(generation=generation).count() == 1
    assert release_of(generation) == Decimal("4")
    assert "1 of 3 images were delivered" in generation.error_message
    assert ledger.balance(alice.team) == STARTING_CREDITS - 2


def test_a_finished_job_cannot_be_canceled(alice, fake_gemini):
    generation = submit(alice)
    jobs.run(generation_id=generation.pk)

    with pytest.raises(jobs.AlreadyFinished):
        jobs.cancel(generation=generation)
    generation.refresh_from_db()
    assert generation.status == Status.COMPLETED


def test_canceling_twice_changes_nothing(alice, fake_gemini):
    generation = submit(alice, n=2)
    jobs.cancel(generation=generation)

    again = jobs.cancel(generation=generation)

    assert again.status == Status.CANCELED
    assert LedgerEntry.objects.filter(reference=generation.public_id).count() == 2


def test_a_cancel_while_the_run_delivers_still_ends_canceled_and_charged(alice, fake_gemini):
    """The run saw no cancel while rendering, but one landed before it finished: the job
    is canceled, and the images it delivered are kept and charged."""
    generation = submit(alice, n=2)
    claimed = jobs._claim(generation.pk, queued=True)
    outcomes = asyncio.run(render.render(claimed, None))
    assert jobs.cancel(generation=generation).status == Status.PROCESSING

    from generator.jobs import deliver

    delivered = deliver.deliver(claimed, outcomes).generation

    assert delivered.status == Status.CANCELED
    assert delivered.images_delivered == 2
    assert delivered.credits_charged == Decimal("4")
