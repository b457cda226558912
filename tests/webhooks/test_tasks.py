"""The thin Celery tasks: announce queues a send per delivery; a failed send queues its
own retry when it is near, and leaves far ones to the periodic sweep."""

from datetime import timedelta

from django.utils import timezone

from generator.models import Generation
from tests.receiver import Reply
from webhooks import tasks
from webhooks.models import WebhookDelivery


def test_announce_queues_one_send_per_delivery(alice, alice_key, queued, submit_job, receiver):
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())

    tasks.announce_task(generation.pk)

    delivery = WebhookDelivery.objects.get()
    assert queued.sends == [(delivery.pk, None)]


def test_a_failed_send_queues_its_near_retry(alice, alice_key, queued, submit_job, receiver):
    receiver.replies["/hook"] = Reply(500)
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    tasks.announce_task(generation.pk)
    ((delivery_id, _),) = queued.sends

    tasks.send_delivery(delivery_id)

    assert queued.sends[-1] == (delivery_id, 5)


def test_a_far_retry_is_left_to_the_sweep(alice, alice_key, queued, submit_job, receiver):
    receiver.replies["/hook"] = Reply(500)
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    tasks.announce_task(generation.pk)
    delivery = WebhookDelivery.objects.get()
    # Two failures already: the next wait is 30 minutes.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=2)
    queued.sends.clear()

    tasks.send_delivery(delivery.pk)

    assert queued.sends == []
    delivery.refresh_from_db()
    assert delivery.next_attempt_at > timezone.now() + timedelta(minutes=29)


def test_the_sweep_queues_what_is_due(alice, alice_key, queued, submit_job, receiver):
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    tasks.announce_task(generation.pk)
    queued.sends.clear()  # as if the broker lost the first send

    assert tasks.send_due_webhooks() == 1
    assert queued.sends == [(WebhookDelivery.objects.get().pk, None)]


def test_the_sweep_announces_jobs_whose_announcement_was_lost(
    alice, alice_key, queued, submit_job, receiver
):
    lost = submit_job(alice, key=alice_key, callback_url=receiver.url())
    recent = submit_job(alice, key=alice_key, callback_url=receiver.url())
    announced = submit_job(alice, key=alice_key, callback_url=receiver.url())
    tasks.announce_task(announced.pk)
    Generation.objects.filter(pk__in=[lost.pk, announced.pk]).update(
        finished_at=timezone.now() - timedelta(minutes=2)
    )
    queued.announcements.clear()  # as if the broker had lost them all

    tasks.send_due_webhooks()

    assert queued.announcements == [lost.pk]  # not the one just finished, nor the announced
    assert recent.pk not in queued.announcements


def test_jobs_older_than_the_retry_window_are_not_announced_late(
    alice, alice_key, queued, submit_job, receiver
):
    old = submit_job(alice, key=alice_key, callback_url=receiver.url())
    Generation.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=2))
    queued.announcements.clear()

    tasks.send_due_webhooks()

    assert queued.announcements == []
