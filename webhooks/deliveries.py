"""Webhook events and their deliveries: announce a finished task, send a test event,
make one attempt, redeliver, find what is due.

A delivery is attempted at once, then retried after 5 s, 5 min, 30 min, 2 h, 5 h and 10 h
(Svix's schedule) while within RETRY_WINDOW of its creation. Each attempt is claimed by a
conditional UPDATE that pushes ``next_attempt_at`` past the attempt's own duration, so
Celery retries and the periodic sweep of due deliveries can race without sending twice.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from generator.api import serializers
from generator.models import Generation
from pixdash.core import outbound
from pixdash.core.ids import new_ulid
from webhooks import signing
from webhooks.endpoints import default_secret
from webhooks.models import (
    TEST_EVENT,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000)  # seconds after each failed attempt
RETRY_WINDOW = timedelta(hours=24)
TIMEOUT = 10.0  # seconds for a receiver to answer
LEASE = timedelta(seconds=60)  # an attempt's claim; longer than TIMEOUT
# How long after a job finished its announcement is taken for lost (it normally takes
# well under a second through the broker).
ANNOUNCE_GRACE = timedelta(minutes=1)
EVENT_BY_STATUS = {
    "completed": "task.completed",
    "failed": "task.failed",
    "canceled": "task.canceled",
}


class _Origin:
    """What the serializers need of a request, for bodies built outside one: links are
    made absolute with PIXDASH_PUBLIC_URL."""

    request_id = None

    def build_absolute_uri(self, location: str) -> str:
        return settings.PIXDASH_PUBLIC_URL.rstrip("/") + location


def _body(*, event_id: str, type: str, created: datetime, data: dict) -> str:
    envelope = {"type": type, "id": f"evt_{event_id}", "created_at": int(created.timestamp())}
    return json.dumps({**envelope, "data": data}, separators=(",", ":"))


def _new_delivery(event: WebhookEvent, *, url: str, endpoint=None) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        event=event,
        team_id=event.team_id,
        endpoint=endpoint,
        url=url,
        message_id=f"msg_{new_ulid()}",
        next_attempt_at=event.created_at,
    )


def announce(*, generation_id: int) -> list[int]:
    """Create a finished task's event and a delivery for its callback_url and for each
    enabled endpoint of the team that subscribes to it. Once per task and event type: a
    repeated announcement finds the event made and returns no deliveries to send."""
    generation = Generation.objects.select_related("image_model").get(pk=generation_id)
    event_type = EVENT_BY_STATUS.get(generation.status)
    if event_type is None:
        return []
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(team_id=generation.team_id, enabled=True)
        if event_type in endpoint.events
    ]
    if not endpoints and not generation.callback_url:
        return []
    now, event_id = timezone.now(), new_ulid()
    task = serializers.task_to_openai(_Origin(), generation, inline_images=False)
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            generation=generation,
            type=event_type,
            defaults={
                "public_id": event_id,
                "team_id": generation.team_id,
                "created_at": now,
                "body": _body(event_id=event_id, type=event_type, created=now, data=task),
            },
        )
        if not created:
            return []
        deliveries = []
        if generation.callback_url:
            deliveries.append(_new_delivery(event, url=generation.callback_url))
        deliveries += [_new_delivery(event, url=e.url, endpoint=e) for e in endpoints]
    return [delivery.pk for delivery in deliveries]


def unannounced(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Jobs that finished announced a while ago but have no event: their announcement was
    lost (the broker was down when they finished). Within RETRY_WINDOW only."""
    now = now or timezone.now()
    return list(
        Generation.objects.filter(
            announce=True,
            finished_at__gte=now - RETRY_WINDOW,
            finished_at__lte=now - ANNOUNCE_GRACE,
        )
        .exclude(pk__in=WebhookEvent.objects.filter(generation__isnull=False).values("generation"))
        .order_by("finished_at")
        .values_list("pk", flat=True)[:limit]
    )


def send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``webhook.test`` event for one endpoint, enabled or not (test before enabling)."""
    now, event_id = timezone.now(), new_ulid()
    data = {"endpoint_url": endpoint.url, "message": "A test event from Pixdash."}
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            public_id=event_id,
            team_id=endpoint.team_id,
            type=TEST_EVENT,
            created_at=now,
            body=_body(event_id=event_id, type=TEST_EVENT, created=now, data=data),
        )
        return _new_delivery(event, url=endpoint.url, endpoint=endpoint)


def redeliver(*, delivery: WebhookDelivery, now: datetime | None = None) -> None:
    """Attempt again now, with the same message id and body. Retries after a failure
    continue only within the retry window of the original delivery."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now or timezone.now()
    )


def due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Pending deliveries whose attempt time has come (retries past a Celery countdown,
    and any whose first attempt could not be queued)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


@dataclass(frozen=True)
class Attempted:
    delivered: bool
    retry_in: float | None  # seconds until the next attempt; None when there is none


def attempt(*, delivery_id: int, now: datetime | None = None) -> Attempted | None:
    """Make one attempt if the delivery is due and nobody else is making it; None if not."""
    now = now or timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if endpoint is not None and not endpoint.enabled and delivery.event.type != TEST_EVENT:
        return _record(delivery, now, code=None, ms=None, error="Endpoint disabled.", final=True)
    secret = endpoint.secret if endpoint else default_secret(delivery.team_id)
    body = delivery.event.body.encode()
    headers = signing.headers(secret=secret, message_id=delivery.message_id, body=body)
    try:
        response = outbound.request(
            "POST", delivery.url, content=body, headers=headers, timeout=TIMEOUT, max_bytes=1024
        )
    except outbound.OutboundError as error:
        # An address we will never call stays refused: no point retrying it.
        final = isinstance(error, outbound.UnsafeUrl)
        return _record(delivery, now, code=None, ms=None, error=error.message, final=final)
    error = "" if response.ok else f"HTTP {response.status}"
    return _record(delivery, now, code=response.status, ms=response.elapsed_ms, error=error)


def _record(delivery, now, *, code, ms, error: str, final: bool = False) -> Attempted:
    WebhookAttempt.objects.create(
        delivery=delivery, created_at=now, status_code=code, response_ms=ms, error=error[:200]
    )
    changes = {"last_status_code": code, "last_response_ms": ms, "last_error": error[:200]}
    retry_in = None
    if not error:
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None)
    else:
        retry_in = None if final else _retry_delay(delivery, now)
        if retry_in is None:
            changes.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        else:
            changes.update(next_attempt_at=now + timedelta(seconds=retry_in))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
    return Attempted(delivered=not error, retry_in=retry_in)


def _retry_delay(delivery: WebhookDelivery, now: datetime) -> float | None:
    if delivery.attempts > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[delivery.attempts - 1]
    if now + timedelta(seconds=delay) > delivery.created_at + RETRY_WINDOW:
        return None
    return delay
