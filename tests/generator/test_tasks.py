"""generator.tasks: thin Celery tasks over generator.jobs, run in-process with
``.apply()`` (eager: no broker, no worker). Celery runs an eager retry at once, inside the
same apply(), so a retried job is claimed again until it finishes or runs out of attempts.
"""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from celery import states
from celery.signals import task_retry
from django.conf import settings as django_settings
from django.utils import timezone

from billing import ledger
from billing.models import EntryKind, LedgerEntry
from generator import jobs, tasks
from generator.models import Generation, Source, Status
from generator.providers import registry
from tests.conftest import STARTING_CREDITS
from tests.generator.conftest import SAFETY_BLOCK, UPSTREAM_500

pytestmark = pytest.mark.usefixtures("audit_ledger")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def no_broker():
    """submit() enqueues; these tests apply the task themselves instead."""
    with mock.patch.object(tasks.run_generation, "apply_async"):
        yield


@pytest.fixture
def no_backoff():
    with mock.patch.object(jobs, "backoff", return_value=0.0):
        yield


def submit(person, **fields) -> Generation:
    spec = jobs.GenerationSpec(**{"model": "nano-banana", "prompt": "a lighthouse", **fields})
    return jobs.submit(team=person.team, spec=spec, source=Source.API, is_async=True).generation


def fresh(generation: Generation) -> Generation:
    generation.refresh_from_db()
    return generation


def releases(generation: Generation):
    return LedgerEntry.objects.filter(reference=generation.public_id, kind=EntryKind.RELEASE)


def test_run_generation_completes_a_job(alice, fake_gemini):
    generation = submit(alice, n=2)

    result = tasks.run_generation.apply(args=[generation.pk])

    assert result.state == states.SUCCESS
    generation = fresh(generation)
    assert generation.status == Status.COMPLETED
    assert generation.outputs.count() == 2
    assert generation.credits_charged == Decimal("4")
    assert ledger.balance(alice.team) == STARTING_CREDITS - 4


def test_run_generation_of_an_unknown_id_does_nothing(db):
    assert tasks.run_generation.apply(args=[987654]).state == states.SUCCESS


@pytest.fixture
def retried():
    """The countdowns of the retries Celery recorded (state RETRY), in order."""
    countdowns: list[float] = []

    def record(sender=None, reason=None, **kwargs):
        countdowns.append(reason.when)

    task_retry.connect(record, sender=tasks.run_generation, weak=False)
    yield countdowns
    task_retry.disconnect(record, sender=tasks.run_generation)


def test_a_passing_upstream_failure_is_retried_with_the_jobs_backoff(alice, fake_gemini, retried):
    answers = iter([UPSTREAM_500, None])  # the first attempt fails, the retry works
    fake_gemini.script = lambda request: next(answers)
    generation = submit(alice)

    with mock.patch.object(jobs, "backoff", return_value=7.5):
        result = tasks.run_generation.apply(args=[generation.pk])

    assert retried == [7.5]
    assert result.state == states.SUCCESS
    generation = fresh(generation)
    assert generation.status == Status.COMPLETED
    assert generation.attempts == 2
    assert ledger.balance(alice.team) == STARTING_CREDITS - 2


def test_run_generation_stops_retrying_when_the_job_runs_out_of_attempts(
    alice, fake_gemini, no_backoff, retried
):
    fake_gemini.script = lambda request: UPSTREAM_500
    generation = submit(alice, n=2)

    result = tasks.run_generation.apply(args=[generation.pk])

    assert result.state == states.SUCCESS
    generation = fresh(generation)
    assert generation.status == Status.FAILED
    assert generation.attempts == django_settings.PIXDASH_JOB_MAX_ATTEMPTS
    assert generation.error_code == "upstream_unavailable"
    assert releases(generation).get().amount == Decimal("4")
    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert len(fake_gemini.calls) == 2 * django_settings.PIXDASH_JOB_MAX_ATTEMPTS
    assert len(retried) == django_settings.PIXDASH_JOB_MAX_ATTEMPTS - 1


def test_a_crashing_provider_is_retried_then_failed_and_released(
    alice, fake_gemini, no_backoff, retried
):
    def crashing_factory():
        raise RuntimeError("the adapter could not even be built")

    generation = submit(alice, n=2)
    registry.overrides["gemini"] = crashing_factory

    result = tasks.run_generation.apply(args=[generation.pk])

    generation = fresh(generation)
    assert generation.status == Status.FAILED
    # Each crash releases the claim for the retry; the claim after the last attempt
    # fails the job instead of running it.
    assert len(retried) == django_settings.PIXDASH_JOB_MAX_ATTEMPTS
    assert generation.attempts == django_settings.PIXDASH_JOB_MAX_ATTEMPTS + 1
    assert generation.error_code == "too_many_attempts"
    assert generation.claim_token is None
    assert releases(generation).get().amount == Decimal("4")
    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert result.state == states.SUCCESS


def test_a_crash_in_render_is_retried_then_failed_and_released(alice, fake_gemini, no_backoff):
    generation = submit(alice)

    with mock.patch.object(jobs.render, "render", side_effect=RuntimeError("boom")) as render:
        tasks.run_generation.apply(args=[generation.pk])

    assert render.call_count == django_settings.PIXDASH_JOB_MAX_ATTEMPTS
    generation = fresh(generation)
    assert generation.status == Status.FAILED
    assert releases(generation).get().amount == Decimal("2")
    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_a_task_out_of_retries_abandons_the_job(alice, fake_gemini):
    generation = submit(alice)
    retries = django_settings.PIXDASH_JOB_MAX_ATTEMPTS

    with mock.patch.object(jobs, "run", side_effect=RuntimeError("database went away")):
        result = tasks.run_generation.apply(args=[generation.pk], retries=retries)

    assert result.state == states.FAILURE
    assert isinstance(result.result, RuntimeError)
    generation = fresh(generation)
    assert generation.status == Status.FAILED
    assert generation.error_code == "internal_error"
    assert releases(generation).get().amount == Decimal("2")


def test_a_safety_block_is_not_retried(alice, fake_gemini):
    fake_gemini.script = lambda request: SAFETY_BLOCK
    generation = submit(alice)

    with mock.patch.object(tasks.run_generation, "retry") as retry:
        tasks.run_generation.apply(args=[generation.pk])

    retry.assert_not_called()
    assert fresh(generation).error_code == "prompt_rejected"


def test_sweep_generations_returns_the_count(alice, fake_gemini):
    submit(alice)
    submit(alice)
    waited = timedelta(seconds=django_settings.PIXDASH_JOB_QUEUE_TIMEOUT + 60)
    old = timezone.now() - waited
    Generation.objects.update(created_at=old)

    result = tasks.sweep_generations.apply()

    assert result.state == states.SUCCESS
    assert result.result == 2
    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert tasks.sweep_generations.apply().result == 0
