"""generator.jobs: submit holds and creates, run claims, renders, stores and settles once;
retries, stale claims, the sweeper, Idempotency-Key replays and a broker that is down.

Runs call jobs.run(generation_id=...) directly, which is all the Celery task does. The
money invariants (tests/ledger_audit.py) are checked after every test.
"""

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.utils import timezone
from kombu.exceptions import OperationalError
from PIL import Image

from billing import ledger
from billing.ledger import InsufficientCredits
from billing.models import EntryKind, LedgerEntry
from generator import images as imaging
from generator import jobs, tasks
from generator.api import errors
from generator.jobs import deliver, render, state
from generator.models import Generation, InputImage, OutputImage, Source, Status
from tests.conftest import STARTING_CREDITS
from tests.generator.conftest import (
    SAFETY_BLOCK,
    UPSTREAM_500,
    UPSTREAM_TIMEOUT,
    fail_index,
    png_bytes,
)

pytestmark = pytest.mark.usefixtures("audit_ledger")


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    """A media root per test, so the files a test stores can be counted."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def queued():
    """Generation ids handed to the broker; nothing is published for real."""
    sent: list[int] = []
    with mock.patch.object(
        tasks.run_generation, "apply_async", side_effect=lambda args, **_: sent.append(*args)
    ):
        yield sent


def spec(**fields) -> jobs.GenerationSpec:
    return jobs.GenerationSpec(**{"model": "nano-banana", "prompt": "a fox in the snow", **fields})


def submit(person, *, is_async=True, api_key=None, idempotency_key=None, **fields) -> Generation:
    return jobs.submit(
        team=person.team,
        user=person.user,
        spec=spec(**fields),
        source=Source.API,
        is_async=is_async,
        api_key=api_key,
        idempotency_key=idempotency_key,
    ).generation


def submit_sync(person, *, idempotency_key=None, **fields) -> jobs.Submission:
    """A sync job: created claimed by its request, which runs it with jobs.run_now()."""
    return jobs.submit(
        team=person.team,
        user=person.user,
        spec=spec(**fields),
        source=Source.API,
        is_async=False,
        idempotency_key=idempotency_key,
    )


def run_now(submission: jobs.Submission) -> Generation:
    return async_to_sync(jobs.run_now)(submission).generation


def fresh(generation: Generation) -> Generation:
    generation.refresh_from_db()
    return generation


def ledger_entries(generation: Generation, kind: str):
    return LedgerEntry.objects.filter(reference=generation.public_id, kind=kind)


def released(generation: Generation) -> Decimal:
    return ledger_entries(generation, EntryKind.RELEASE).get().amount


def files_under(root: Path) -> set[str]:
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


def output_files(generation: Generation) -> set[str]:
    names = set()
    for output in generation.outputs.all():
        names |= {output.file.name, output.thumbnail.name}
    return names


def upload(width=64, height=48) -> imaging.UploadedImage:
    return imaging.inspect_upload(png_bytes(width, height), param="image")


# --- submit ------------------------------------------------------------------------------


def test_submit_holds_n_times_the_price_and_creates_a_submitted_job(alice, fake_gemini, queued):
    generation = submit(alice, n=3, size="1920x1080", output_format="webp")

    assert ledger.balance(alice.team) == STARTING_CREDITS - 3 * Decimal("2")
    hold = ledger_entries(generation, EntryKind.HOLD).get()
    assert hold.amount == Decimal("-6.00")
    assert (hold.model, hold.images, hold.user) == ("gemini-2.5-flash-image", 3, alice.user)
    generation = fresh(generation)
    assert generation.status == Status.SUBMITTED
    assert generation.team == alice.team
    assert generation.requested_model == "nano-banana"
    assert generation.image_model.public_id == "gemini-2.5-flash-image"
    assert (generation.unit_price, generation.credits_held) == (Decimal("2"), Decimal("6"))
    assert generation.credits_charged == 0
    assert generation.provider == "gemini"
    assert not generation.demo
    assert (generation.aspect_ratio, generation.width, generation.height) == ("16:9", 1344, 768)
    assert generation.output_format == "webp"
    assert generation.attempts == 0
    assert queued == [generation.pk]
    assert fake_gemini.calls == []  # nothing reaches the provider before a worker runs it


def test_submit_stores_the_reference_images_and_mask(alice, fake_gemini, media):
    image = upload(64, 48)
    mask = imaging.inspect_mask(png_bytes(64, 48), image=image)

    generation = submit(alice, images=(image, upload(32, 32)), mask=mask)

    inputs = list(generation.inputs.order_by("role", "position"))
    assert [(i.role, i.position) for i in inputs] == [
        (InputImage.Role.IMAGE, 0),
        (InputImage.Role.IMAGE, 1),
        (InputImage.Role.MASK, 0),
    ]
    assert (inputs[0].width, inputs[0].height, inputs[0].sha256) == (64, 48, image.sha256)
    with default_storage.open(inputs[0].file.name) as handle:
        assert handle.read() == image.data
    assert inputs[0].file.name.startswith(f"inputs/{alice.team.pk}/{generation.public_id}-")
    assert generation.is_edit


def test_a_sync_submit_is_not_queued_but_claimed_by_its_request(alice, fake_gemini, queued):
    submission = submit_sync(alice)
    generation = submission.generation

    assert queued == []
    assert not generation.is_async
    assert generation.status == Status.PROCESSING
    assert submission.claim.token == fresh(generation).claim_token


def test_an_unknown_model_is_model_not_found_and_nothing_is_held(alice):
    with pytest.raises(jobs.ModelNotFound) as raised:
        submit(alice, model="dall-e-9")

    assert errors.from_domain(raised.value).status == 404
    assert raised.value.param == "model"
    assert not Generation.objects.exists()
    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_an_alias_resolves_to_its_model_in_any_case(alice, fake_gemini):
    generation = submit(alice, model="Nano-Banana-PRO")

    assert generation.image_model.public_id == "gemini-3-pro-image-preview"
    assert generation.requested_model == "Nano-Banana-PRO"
    assert generation.credits_held == Decimal("8")


def test_a_key_limited_to_other_models_is_not_permitted(alice, alice_key, fake_gemini):
    key = alice_key.api_key
    key.allowed_models = ["local-preview", "nano-banana-2"]
    key.save()

    with pytest.raises(jobs.NotPermitted) as raised:
        submit(alice, api_key=key, model="nano-banana")
    assert errors.from_domain(raised.value).status == 403
    assert not Generation.objects.exists()

    # Allowed by alias or by public id alike.
    assert submit(alice, api_key=key, model="gemini-3.1-flash-image-preview").credits_held == 4
    assert submit(alice, api_key=key, model="local-preview").credits_held == 0


def test_a_key_over_its_monthly_limit_is_not_permitted_and_nothing_is_held(
    alice, alice_key, fake_gemini
):
    key = alice_key.api_key
    key.monthly_credit_limit = Decimal("5.00")
    key.save()
    submit(alice, api_key=key, n=2)  # 4 of 5 credits

    with pytest.raises(jobs.NotPermitted, match="monthly limit of 5.00"):
        submit(alice, api_key=key, n=1)

    assert Generation.objects.count() == 1
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4
    # Other doors to the same team are not limited by that key.
    submit(alice, n=1)


def test_the_monthly_limit_counts_what_finished_jobs_charged(alice, alice_key, fake_gemini):
    key = alice_key.api_key
    key.monthly_credit_limit = Decimal("4.00")
    key.save()
    fake_gemini.script = fail_index(1, SAFETY_BLOCK)
    first = submit(alice, api_key=key, n=2)
    jobs.run(generation_id=first.pk)  # charges 2, releases 2

    submit(alice, api_key=key, n=1)  # 2 + 2 fits under 4

    with pytest.raises(jobs.NotPermitted):
        submit(alice, api_key=key, n=1)


def test_insufficient_credits_creates_nothing(alice, fake_gemini):
    submit(alice, model="nano-banana-pro", n=10)  # 80 of 100

    with pytest.raises(InsufficientCredits) as raised:
        submit(alice, model="nano-banana-pro", n=3, images=(upload(),))

    assert (raised.value.needed, raised.value.available) == (Decimal("24"), Decimal("20"))
    assert Generation.objects.count() == 1
    assert not InputImage.objects.exists()
    assert ledger.balance(alice.team) == Decimal("20")


def test_a_bad_size_is_refused_before_anything_is_held(alice, fake_gemini):
    with pytest.raises(jobs.JobError) as raised:
        submit(alice, size="huge")

    assert raised.value.param == "size"
    assert not Generation.objects.exists()


# --- run ---------------------------------------------------------------------------------


def test_run_with_the_local_renderer_delivers_images_with_webp_thumbnails(alice, media):
    generation = submit(alice, model="local-preview", n=2, size="1:1")

    jobs.run(generation_id=generation.pk)

    generation = fresh(generation)
    assert generation.status == Status.COMPLETED
    assert (generation.progress, generation.images_delivered) == (100, 2)
    assert generation.credits_charged == 0
    assert generation.error_code == generation.error_message == ""
    assert generation.claim_token is None and generation.lease_expires_at is None
    assert generation.started_at <= generation.finished_at
    assert len(generation.upstream_request_ids) == 2
    outputs = list(generation.outputs.order_by("index"))
    assert [o.index for o in outputs] == [0, 1]
    for output in outputs:
        assert output.team == alice.team
        with default_storage.open(output.file.name) as handle:
            data = handle.read()
        picture = Image.open(io.BytesIO(data))
        assert (picture.format, picture.size) == ("PNG", (1024, 1024))
        assert (output.mime_type, output.width, output.height) == ("image/png", 1024, 1024)
        assert output.bytes == len(data)
        with default_storage.open(output.thumbnail.name) as handle:
            thumbnail = Image.open(io.BytesIO(handle.read()))
        assert thumbnail.format == "WEBP"
        assert max(thumbnail.size) <= 512
    assert files_under(media) == output_files(generation)
    assert released(generation) == 0
    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_run_charges_the_unit_price_per_delivered_image(alice, fake_gemini):
    generation = submit(alice, n=2, output_format="jpeg")

    jobs.run(generation_id=generation.pk)

    generation = fresh(generation)
    assert generation.status == Status.COMPLETED
    assert generation.credits_charged == Decimal("4")
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4
    assert {o.mime_type for o in generation.outputs.all()} == {"image/jpeg"}
    assert [r.index for r in sorted(fake_gemini.calls, key=lambda r: r.index)] == [0, 1]
    assert {(r.width, r.height) for r in fake_gemini.calls} == {(1024, 1024)}


def test_one_failed_image_of_four_is_not_charged(alice, fake_gemini, media):
    fake_gemini.script = fail_index(2, UPSTREAM_500)
    generation = submit(alice, n=4)

    jobs.run(generation_id=generation.pk)

    generation = fresh(generation)
    assert generation.status == Status.COMPLETED
    assert sorted(o.index for o in generation.outputs.all()) == [0, 1, 3]
    assert generation.images_delivered == 3
    assert generation.credits_charged == 3 * Decimal("2")
    assert released(generation) == Decimal("2")
    assert ledger.balance(alice.team) == STARTING_CREDITS - 6
    assert generation.error_code == "upstream_unavailable"
    assert "1 of 4 images failed" in generation.error_message
    assert len(files_under(media)) == 2 * 3


def test_every_image_blocked_by_safety_fails_charges_nothing_and_releases_once(
    alice, fake_gemini, media
):
    fake_gemini.script = lambda request: SAFETY_BLOCK
    generation = submit(alice, n=2)

    jobs.run(generation_id=generation.pk)  # not worth retrying: no RetryLater

    generation = fresh(generation)
    assert generation.status == Status.FAILED
    assert generation.error_code == "prompt_rejected"
    assert generation.error_message == SAFETY_BLOCK.message
    assert generation.credits_charged == 0
    assert ledger_entries(generation, EntryKind.RELEASE).count() == 1
    assert released(generation) == Decimal("4")
    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert not generation.outputs.exists()
    assert files_under(media) == set()
    assert len(fake_gemini.calls) == 2


def test_a_safety_block_names_the_failure_even_among_other_errors(alice, fake_gemini):
    fake_gemini.script = lambda request: SAFETY_BLOCK if request.index == 1 else UPSTREAM_500
    generation = submit(alice, n=2)

    jobs.run(generation_id=generation.pk)

    assert fresh(generation).status == Status.FAILED
    assert generation.error_code == "prompt_rejected"


@pytest.mark.parametrize("error", [UPSTREAM_500, UPSTREAM_TIMEOUT], ids=["500", "timeout"])
def test_a_passing_upstream_failure_asks_to_retry_with_the_hold_intact(alice, fake_gemini, error):
    fake_gemini.script = lambda request: error
    generation = submit(alice, n=2)

    with pytest.raises(jobs.RetryLater) as raised:
        jobs.run(generation_id=generation.pk)

    assert 0 <= raised.value.countdown <= 60
    generation = fresh(generation)
    assert generation.status == Status.SUBMITTED
    assert generation.attempts == 1
    assert generation.claim_token is None and generation.lease_expires_at is None
    assert not ledger_entries(generation, EntryKind.RELEASE).exists()
    assert ledger.credits_on_hold(alice.team) == Decimal("4")
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4


@pytest.mark.parametrize("error", [UPSTREAM_500, UPSTREAM_TIMEOUT], ids=["500", "timeout"])
def test_after_the_last_attempt_a_retried_job_fails_and_is_released(alice, fake_gemini, error):
    fake_gemini.script = lambda request: error
    generation = submit(alice, n=2)
    attempts = django_settings.PIXDASH_JOB_MAX_ATTEMPTS

    for _ in range(attempts - 1):
        with pytest.raises(jobs.RetryLater):
            jobs.run(generation_id=generation.pk)
        assert not ledger.is_settled(generation.public_id)
    jobs.run(generation_id=generation.pk)

    generation = fresh(generation)
    assert generation.status == Status.FAILED
    assert generation.attempts == attempts
    assert generation.error_code == "upstream_unavailable"
    assert generation.credits_charged == 0
    assert released(generation) == Decimal("4")
    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert len(fake_gemini.calls) == attempts * 2
    jobs.run(generation_id=generation.pk)  # a late redelivery does nothing
    assert len(fake_gemini.calls) == attempts * 2


def test_the_attempt_limit_comes_from_settings(alice, fake_gemini, settings):
    settings.PIXDASH_JOB_MAX_ATTEMPTS = 1
    fake_gemini.script = lambda request: UPSTREAM_500
    generation = submit(alice)

    jobs.run(generation_id=generation.pk)

    assert fresh(generation).status == Status.FAILED


def test_a_job_claimed_too_often_fails_at_the_claim_without_calling_the_provider(
    alice, fake_gemini
):
    generation = submit(alice)
    Generation.objects.filter(pk=generation.pk).update(
        attempts=django_settings.PIXDASH_JOB_MAX_ATTEMPTS
    )

    jobs.run(generation_id=generation.pk)

    generation = fresh(generation)
    assert generation.status == Status.FAILED
    assert generation.error_code == "too_many_attempts"
    assert fake_gemini.calls == []
    assert released(generation) == Decimal("2")


def test_a_second_run_of_a_finished_job_does_nothing(alice, fake_gemini, media):
    generation = submit(alice, n=2)
    jobs.run(generation_id=generation.pk)
    files = files_under(media)

    jobs.run(generation_id=generation.pk)

    generation = fresh(generation)
    assert generation.status == Status.COMPLETED
    assert generation.attempts == 1
    assert len(fake_gemini.calls) == 2
    assert OutputImage.objects.filter(generation=generation).count() == 2
    assert ledger_entries(generation, EntryKind.RELEASE).count() == 1
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4
    assert files_under(media) == files


def test_a_run_of_a_job_another_run_holds_does_nothing(alice, fake_gemini):
    generation = submit(alice)
    claimed = jobs._claim(
        generation.pk, queued=generation.is_async
    )  # a live worker has it, lease running

    jobs.run(generation_id=generation.pk)

    assert fake_gemini.calls == []
    generation = fresh(generation)
    assert generation.status == Status.PROCESSING
    assert generation.claim_token == claimed.token
    assert not ledger.is_settled(generation.public_id)


def test_a_worker_run_does_not_take_a_sync_job(alice, fake_gemini):
    submission = submit_sync(alice)
    generation = submission.generation

    jobs.run(generation_id=generation.pk)  # e.g. a stray message with this id

    assert fake_gemini.calls == []
    assert fresh(generation).status == Status.PROCESSING  # claimed by its request
    assert run_now(submission).status == Status.COMPLETED


def test_a_processing_job_whose_lease_ran_out_is_reclaimed_and_finishes_once(
    alice, fake_gemini, media
):
    generation = submit(alice, n=2)
    jobs._claim(
        generation.pk, queued=generation.is_async
    )  # the worker that took it died without a word
    Generation.objects.filter(pk=generation.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    jobs.run(generation_id=generation.pk)

    generation = fresh(generation)
    assert generation.status == Status.COMPLETED
    assert generation.attempts == 2
    assert generation.credits_charged == Decimal("4")
    assert generation.outputs.count() == 2
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4
    assert files_under(media) == output_files(generation)


def test_a_stale_claims_late_delivery_is_dropped_and_leaves_the_winners_files(
    alice, fake_gemini, media
):
    generation = submit(alice, n=2)
    stale = jobs._claim(generation.pk, queued=generation.is_async)
    Generation.objects.filter(pk=generation.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    jobs.run(generation_id=generation.pk)  # the replacement run finishes the job
    winner = fresh(generation)
    winner_outputs = {(o.index, o.file.name, o.sha256) for o in winner.outputs.all()}

    # The first worker was only slow: it comes back with its own images.
    late = async_to_sync(render.render)(stale, None)
    result = deliver.deliver(stale, late).generation

    assert result.status == Status.COMPLETED
    assert result.finished_at == winner.finished_at
    assert {(o.index, o.file.name, o.sha256) for o in result.outputs.all()} == winner_outputs
    assert ledger_entries(generation, EntryKind.RELEASE).count() == 1
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4
    # The late run's files are gone; the delivered ones are intact.
    assert files_under(media) == output_files(result)
    for output in result.outputs.all():
        with default_storage.open(output.file.name) as handle:
            assert imaging.sniff_mime(handle.read()) == "image/png"


def test_a_stale_claim_cannot_fail_a_job_another_run_took_over(alice, fake_gemini):
    generation = submit(alice)
    stale = jobs._claim(generation.pk, queued=generation.is_async)
    Generation.objects.filter(pk=generation.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    jobs._claim(generation.pk, queued=generation.is_async)

    state.release_claim(stale)
    assert not state.fail(
        generation.pk, code="x", message="x", statuses=(Status.PROCESSING,), token=stale.token
    )

    assert fresh(generation).status == Status.PROCESSING
    assert not ledger.is_settled(generation.public_id)


def test_run_now_runs_a_sync_generation_in_the_calling_request(alice, fake_gemini):
    result = run_now(submit_sync(alice, n=2))

    assert result.status == Status.COMPLETED
    assert result.credits_charged == Decimal("4")
    assert result.outputs.count() == 2
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4


def test_run_now_settles_failures_at_once_without_retrying(alice, fake_gemini):
    fake_gemini.script = lambda request: UPSTREAM_500

    result = run_now(submit_sync(alice))

    assert result.status == Status.FAILED
    assert result.error_code == "upstream_unavailable"
    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_a_replay_of_a_finished_sync_job_returns_it_untouched(alice, fake_gemini):
    first = submit_sync(alice, idempotency_key="once")
    generation = run_now(first)

    replay = submit_sync(alice, idempotency_key="once")
    again = run_now(replay)

    assert replay.replayed and replay.claim is None

    assert again.status == Status.COMPLETED
    assert len(fake_gemini.calls) == 1
    assert ledger_entries(generation, EntryKind.RELEASE).count() == 1


# --- sweep -------------------------------------------------------------------------------

LEASE = timedelta(seconds=django_settings.CELERY_TASK_TIME_LIMIT)
QUEUE_TIMEOUT = timedelta(seconds=django_settings.PIXDASH_JOB_QUEUE_TIMEOUT)


def assert_swept(generation: Generation) -> None:
    generation = fresh(generation)
    assert generation.status == Status.FAILED
    assert generation.error_code == "timeout"
    assert generation.claim_token is None
    assert released(generation) == generation.credits_held
    assert generation.credits_charged == 0


def test_sweep_fails_an_async_job_stuck_past_its_lease_and_the_grace(alice, fake_gemini):
    generation = submit(alice, n=2)
    jobs._claim(generation.pk, queued=generation.is_async)
    claimed_at = timezone.now()

    # Within the grace the broker may still redeliver the task: leave it.
    assert jobs.sweep(now=claimed_at + LEASE + timedelta(seconds=5)) == 0
    assert fresh(generation).status == Status.PROCESSING
    assert jobs.sweep(now=claimed_at + 2 * LEASE + timedelta(seconds=5)) == 1

    assert_swept(generation)
    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_sweep_fails_a_sync_job_stuck_past_its_lease(alice, fake_gemini):
    claimed_at = timezone.now()
    generation = submit(alice, is_async=False)  # the web process running it died

    assert jobs.sweep(now=claimed_at + LEASE - timedelta(seconds=5)) == 0
    assert jobs.sweep(now=claimed_at + LEASE + timedelta(seconds=5)) == 1

    assert_swept(generation)


def test_sweep_fails_a_job_never_picked_up_from_the_queue(alice, fake_gemini):
    generation = submit(alice)

    assert jobs.sweep(now=timezone.now() + QUEUE_TIMEOUT - timedelta(seconds=5)) == 0
    assert jobs.sweep(now=timezone.now() + QUEUE_TIMEOUT + timedelta(seconds=5)) == 1

    assert_swept(generation)
    assert jobs.sweep(now=timezone.now() + QUEUE_TIMEOUT + timedelta(seconds=5)) == 0


def test_sweep_leaves_finished_jobs_and_a_late_worker_cannot_deliver_after_it(
    alice, fake_gemini, media
):
    done = submit(alice)
    jobs.run(generation_id=done.pk)
    stuck = submit(alice)
    claimed = jobs._claim(stuck.pk, queued=True)

    assert jobs.sweep(now=timezone.now() + 3 * LEASE + QUEUE_TIMEOUT) == 1

    assert fresh(done).status == Status.COMPLETED
    assert_swept(stuck)
    outcomes = async_to_sync(render.render)(claimed, None)
    assert deliver.deliver(claimed, outcomes).generation.status == Status.FAILED
    assert files_under(media) == output_files(done)


def test_sweep_forgets_idempotency_keys_older_than_a_day(alice, fake_gemini):
    old = submit(alice, idempotency_key="old-key")
    jobs.run(generation_id=old.pk)
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    recent = submit(alice, idempotency_key="recent-key")
    jobs.run(generation_id=recent.pk)

    jobs.sweep()

    assert fresh(old).idempotency_key is None
    assert fresh(old).status == Status.COMPLETED
    assert fresh(recent).idempotency_key == "recent-key"
    # The key can be used again for a new job.
    assert submit(alice, idempotency_key="old-key").pk != old.pk


def test_sweep_generations_task_returns_the_count(alice, fake_gemini):
    submit(alice)
    submit(alice)
    Generation.objects.update(created_at=timezone.now() - QUEUE_TIMEOUT - timedelta(minutes=1))

    assert tasks.sweep_generations() == 2


# --- Idempotency-Key ---------------------------------------------------------------------


def test_the_same_idempotency_key_and_request_replays_the_job(alice, fake_gemini, queued):
    first = jobs.submit(
        team=alice.team, spec=spec(n=2), source=Source.API, is_async=True, idempotency_key="k1"
    )
    again = jobs.submit(
        team=alice.team, spec=spec(n=2), source=Source.API, is_async=True, idempotency_key="k1"
    )

    assert not first.replayed
    assert again.replayed
    assert again.generation.pk == first.generation.pk
    assert Generation.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.HOLD).count() == 1
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4
    assert queued == [first.generation.pk]


def test_the_same_idempotency_key_with_another_request_is_a_mismatch(alice, fake_gemini):
    submit(alice, idempotency_key="k1", prompt="a fox")

    with pytest.raises(jobs.IdempotencyMismatch) as raised:
        submit(alice, idempotency_key="k1", prompt="a wolf")
    with pytest.raises(jobs.IdempotencyMismatch):
        submit(alice, idempotency_key="k1", prompt="a fox", images=(upload(),))

    assert raised.value.param == "Idempotency-Key"
    assert Generation.objects.count() == 1
    assert ledger.balance(alice.team) == STARTING_CREDITS - 2


def test_an_idempotency_key_belongs_to_one_team(alice, charlie, fake_gemini):
    ours = submit(alice, idempotency_key="k1")
    theirs = submit(charlie, idempotency_key="k1", prompt="something else")

    assert theirs.pk != ours.pk
    assert theirs.team == charlie.team
    assert ledger.balance(charlie.team) == STARTING_CREDITS - 2


def test_a_replay_of_a_finished_job_returns_it_without_a_new_charge(alice, fake_gemini):
    first = submit(alice, idempotency_key="k1")
    jobs.run(generation_id=first.pk)

    again = jobs.submit(
        team=alice.team, spec=spec(), source=Source.API, is_async=True, idempotency_key="k1"
    )

    assert again.replayed
    assert again.generation.status == Status.COMPLETED
    assert ledger.balance(alice.team) == STARTING_CREDITS - 2


# --- broker down --------------------------------------------------------------------------


def test_a_broker_down_at_submit_fails_the_job_and_releases_its_hold(alice, fake_gemini):
    with (
        mock.patch.object(
            tasks.run_generation,
            "apply_async",
            side_effect=OperationalError("Error 111 connecting to 127.0.0.1:6379."),
        ),
        pytest.raises(jobs.QueueUnavailable) as raised,
    ):
        submit(alice, n=3)

    assert errors.from_domain(raised.value).status == 503
    assert "6379" not in raised.value.message
    generation = Generation.objects.get()
    assert generation.status == Status.FAILED
    assert generation.error_code == "queue_unavailable"
    assert released(generation) == Decimal("6")
    assert ledger.credits_on_hold(alice.team) == 0
    assert ledger.balance(alice.team) == STARTING_CREDITS
    # A worker that somehow gets the message later finds nothing to do.
    jobs.run(generation_id=generation.pk)
    assert fake_gemini.calls == []


def test_a_crash_while_delivering_hands_the_job_back_at_once(alice, fake_gemini):
    generation = submit(alice)
    with (
        mock.patch.object(deliver, "_save_file", side_effect=OSError("disk full")),
        pytest.raises(OSError),
    ):
        jobs.run(generation_id=generation.pk)

    generation = fresh(generation)
    assert generation.status == Status.SUBMITTED
    assert generation.claim_token is None and generation.lease_expires_at is None
    assert not ledger_entries(generation, EntryKind.RELEASE).exists()

    jobs.run(generation_id=generation.pk)
    assert fresh(generation).status == Status.COMPLETED
