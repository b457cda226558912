"""jobs.dispatch.redispatch(): queued jobs whose message may be lost are sent again, from
the database, at growing intervals; nothing else is. The real broker restart is in
tests/e2e/test_broker_restart.py."""

from datetime import timedelta
from unittest import mock

from django.conf import settings as django_settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from generator import jobs, tasks
from generator.jobs import dispatch
from generator.models import Generation, Source, Status

GRACE = timedelta(seconds=django_settings.PIXDASH_DISPATCH_GRACE)
MAX_INTERVAL = timedelta(seconds=django_settings.PIXDASH_DISPATCH_MAX_INTERVAL)


def submit(person, *, is_async=True) -> Generation:
    return jobs.submit(
        team=person.team,
        user=person.user,
        spec=jobs.GenerationSpec(model="nano-banana", prompt="a lighthouse", n=1),
        source=Source.API,
        is_async=is_async,
    ).generation


def redispatch(now) -> list[int]:
    """Run the dispatcher at ``now``; the ids it published."""
    with mock.patch.object(tasks.run_generation, "apply_async") as publish:
        dispatch.redispatch(now=now)
    return [call.kwargs["args"][0] for call in publish.call_args_list]


def test_a_queued_job_is_sent_again_after_the_grace_only(alice, fake_gemini):
    generation = submit(alice)
    created = generation.created_at

    assert redispatch(created + GRACE - timedelta(seconds=1)) == []
    assert redispatch(created + GRACE + timedelta(seconds=1)) == [generation.pk]
    generation.refresh_from_db()
    assert generation.dispatched_at == created + GRACE + timedelta(seconds=1)


def test_a_job_waiting_in_a_backlog_is_sent_again_at_growing_intervals(alice, fake_gemini):
    generation = submit(alice)
    t = generation.created_at + GRACE
    assert redispatch(t) == [generation.pk]

    # The next wait is as long as the job's age at the last send (at least the grace).
    assert redispatch(t + GRACE - timedelta(seconds=1)) == []
    t += GRACE
    assert redispatch(t) == [generation.pk]
    assert redispatch(t + 2 * GRACE - timedelta(seconds=1)) == []
    t += 2 * GRACE
    assert redispatch(t) == [generation.pk]

    # ...but never longer than the cap, so a job lost long ago runs soon after the broker
    # returns.
    much_later = t + timedelta(hours=1)
    assert redispatch(much_later) == [generation.pk]
    assert redispatch(much_later + MAX_INTERVAL - timedelta(seconds=1)) == []
    assert redispatch(much_later + MAX_INTERVAL) == [generation.pk]


def test_running_finished_canceled_and_sync_jobs_are_left_alone(alice, fake_gemini):
    running = submit(alice)
    jobs._claim(running.pk, queued=True)
    done = submit(alice)
    jobs.run(generation_id=done.pk)
    canceled = submit(alice)
    jobs.cancel(generation=canceled)
    sync = submit(alice, is_async=False)
    assert {g.status for g in Generation.objects.all()} == {
        Status.PROCESSING,  # the claimed one, and the sync one: its own web request runs it
        Status.COMPLETED,
        Status.CANCELED,
    }

    assert redispatch(timezone.now() + timedelta(hours=1)) == []
    assert sync.pk


def test_a_job_handed_back_for_a_retry_waits_the_grace_from_that_moment(alice, fake_gemini):
    generation = submit(alice)
    claimed = jobs._claim(generation.pk, queued=True)
    later = timezone.now() + timedelta(minutes=5)
    jobs.state.release_claim(claimed)
    Generation.objects.filter(pk=generation.pk).update(started_at=later)

    assert redispatch(later + GRACE - timedelta(seconds=1)) == []
    assert redispatch(later + GRACE) == [generation.pk]


def test_a_broker_still_down_stops_the_run_and_the_next_one_tries_again(alice, fake_gemini):
    first, second = submit(alice), submit(alice)
    now = timezone.now() + timedelta(minutes=5)

    with mock.patch.object(
        tasks.run_generation, "apply_async", side_effect=OperationalError("down")
    ) as publish:
        assert dispatch.redispatch(now=now) == 0
    assert publish.call_count == 1
    assert not Generation.objects.filter(dispatched_at__isnull=False).exists()

    assert sorted(redispatch(now)) == sorted([first.pk, second.pk])


def test_the_beat_task_runs_the_dispatcher(alice, fake_gemini):
    generation = submit(alice)
    Generation.objects.filter(pk=generation.pk).update(created_at=timezone.now() - 2 * GRACE)
    with mock.patch.object(tasks.run_generation, "apply_async") as publish:
        assert tasks.redispatch_generations() == 1
    assert publish.call_args.kwargs["args"] == [generation.pk]
    assert "redispatch-queued-generations" in django_settings.CELERY_BEAT_SCHEDULE
