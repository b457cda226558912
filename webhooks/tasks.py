"""Thin Celery tasks over webhooks.deliveries: take ids, call the domain functions."""

import logging

from celery import shared_task
from django.db import transaction

from webhooks import deliveries

logger = logging.getLogger(__name__)

# Retries further off than this wait for the periodic sweep (send_due_webhooks) rather
# than a countdown: a broker like Redis redelivers a message held past its visibility
# timeout, and nobody should hold a message for hours.
MAX_COUNTDOWN = 600


@shared_task(acks_late=True, reject_on_worker_lost=True)
def announce_task(generation_id: int) -> None:
    for delivery_id in deliveries.announce(generation_id=generation_id):
        send_delivery.delay(delivery_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60)
def send_delivery(delivery_id: int) -> None:
    outcome = deliveries.attempt(delivery_id=delivery_id)
    if outcome is not None and outcome.retry_in is not None and outcome.retry_in <= MAX_COUNTDOWN:
        send_delivery.apply_async(args=[delivery_id], countdown=outcome.retry_in)


@shared_task
def send_due_webhooks() -> int:
    """Periodic: announce finished jobs whose announcement was lost, and send what is due."""
    for generation_id in deliveries.unannounced():
        announce_task.delay(generation_id)
    due = deliveries.due()
    for delivery_id in due:
        send_delivery.delay(delivery_id)
    return len(due)


def send_after_commit(delivery_id: int) -> None:
    """Queue a delivery's first attempt once its row is committed. If the broker is down,
    the periodic sweep sends it: the row is already due."""

    def send():
        try:
            send_delivery.delay(delivery_id)
        except Exception:
            logger.exception("could not queue webhook %s; the sweep will send it", delivery_id)

    transaction.on_commit(send)
