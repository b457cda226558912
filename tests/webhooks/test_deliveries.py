"""Finished tasks announced to their callback_url and the team's endpoints, signed and
delivered to a real receiver; retries keep the message id and body; redelivery and test
events."""

from datetime import timedelta

from django.utils import timezone

from generator import jobs
from generator.models import Status
from tests.generator.conftest import UPSTREAM_500
from tests.receiver import Reply
from tests.webhooks.conftest import body_of, verified
from webhooks import deliveries, endpoints
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEvent


def announce_and_send(generation) -> list[WebhookDelivery]:
    """What the worker does with an announcement: create the deliveries, attempt each."""
    sent = deliveries.announce(generation_id=generation.pk)
    for delivery_id in sent:
        deliveries.attempt(delivery_id=delivery_id)
    return list(WebhookDelivery.objects.filter(pk__in=sent).order_by("pk"))


def test_a_completed_task_is_delivered_to_its_callback_url_signed_with_the_default_secret(
    alice, alice_key, receiver, submit_job, queued, settings
):
    settings.PIXDASH_PUBLIC_URL = "https://pixdash.example.com"
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url("/cb"))
    assert queued.announcements == [generation.pk]

    (delivery,) = announce_and_send(generation)

    (got,) = receiver.received
    body = verified(endpoints.default_secret(alice.team), got)
    assert body["type"] == "task.completed"
    assert body["id"].startswith("evt_")
    assert isinstance(body["created_at"], int)
    task = body["data"]
    assert task["id"] == f"task_{generation.public_id}"
    assert task["status"] == "completed"
    assert task["result"]["data"][0]["url"].startswith("https://pixdash.example.com/media/signed/")
    assert task["usage"] == {"images": 1, "credits": "2.00"}
    assert got.headers["webhook-id"] == delivery.message_id
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.last_status_code == 200
    (attempt,) = WebhookAttempt.objects.all()
    assert attempt.status_code == 200 and attempt.response_ms is not None


def test_the_teams_endpoints_get_the_events_they_subscribe_to(
    alice, alice_key, receiver, submit_job, make_endpoint
):
    every = make_endpoint(alice, path="/every")
    make_endpoint(alice, path="/failures-only", events=["task.failed"])
    off = make_endpoint(alice, path="/off")
    endpoints.set_enabled(endpoint=off, enabled=False)
    alice.team.refresh_from_db()
    generation = submit_job(alice, key=alice_key)

    announce_and_send(generation)

    (got,) = receiver.received
    assert got.path == "/every"
    assert verified(every.secret, got)["type"] == "task.completed"


def test_a_failed_task_is_announced_as_task_failed(
    alice, alice_key, receiver, submit_job, fake_gemini
):
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url(), run=False)
    jobs.abandon(generation_id=generation.pk, message="gave up")

    announce_and_send(generation)

    task = body_of(receiver.received[0])["data"]
    assert body_of(receiver.received[0])["type"] == "task.failed"
    assert task["status"] == "failed" and task["error"]["code"]


def test_a_canceled_task_is_announced_as_task_canceled(
    alice, alice_key, receiver, submit_job, queued, committed
):
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url(), run=False)
    with committed():
        jobs.cancel(generation=generation)
    assert queued.announcements == [generation.pk]

    announce_and_send(generation)

    assert body_of(receiver.received[0])["type"] == "task.canceled"
    assert body_of(receiver.received[0])["data"]["status"] == Status.CANCELED


def test_announcing_twice_delivers_once(alice, alice_key, receiver, submit_job):
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())

    assert len(deliveries.announce(generation_id=generation.pk)) == 1
    assert deliveries.announce(generation_id=generation.pk) == []
    assert WebhookEvent.objects.count() == 1


def test_a_failed_attempt_is_retried_with_the_same_id_and_bytes(
    alice, alice_key, receiver, submit_job
):
    receiver.replies["/hook"] = Reply(503, body=b"busy")
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    (delivery_id,) = deliveries.announce(generation_id=generation.pk)
    now = timezone.now()

    first = deliveries.attempt(delivery_id=delivery_id, now=now)

    assert first.delivered is False and first.retry_in == 5
    assert deliveries.attempt(delivery_id=delivery_id, now=now + timedelta(seconds=1)) is None
    receiver.replies["/hook"] = Reply(204, body=b"")
    second = deliveries.attempt(delivery_id=delivery_id, now=now + timedelta(seconds=5))
    assert second.delivered is True
    one, two = receiver.received
    assert one.headers["webhook-id"] == two.headers["webhook-id"]
    assert one.body == two.body
    secret = endpoints.default_secret(alice.team)
    assert verified(secret, one) == verified(secret, two)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert [a.status_code for a in WebhookAttempt.objects.order_by("pk")] == [503, 204]


def test_retries_back_off_and_stop_within_24_hours(alice, alice_key, receiver, submit_job):
    receiver.replies["/hook"] = Reply(500)
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    (delivery_id,) = deliveries.announce(generation_id=generation.pk)
    now, waits = timezone.now(), []

    while (outcome := deliveries.attempt(delivery_id=delivery_id, now=now)) is not None:
        if outcome.retry_in is None:
            break
        waits.append(outcome.retry_in)
        now += timedelta(seconds=outcome.retry_in)

    assert waits == [5, 300, 1800, 7200, 18000, 36000]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 7
    assert now - delivery.created_at < timedelta(hours=24)


def test_a_slow_receiver_counts_as_a_failure(alice, alice_key, receiver, submit_job, monkeypatch):
    monkeypatch.setattr(deliveries, "TIMEOUT", 0.3)
    receiver.replies["/hook"] = Reply(delay=1)
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    (delivery_id,) = deliveries.announce(generation_id=generation.pk)

    outcome = deliveries.attempt(delivery_id=delivery_id)

    assert outcome.retry_in == 5
    assert "No answer within" in WebhookDelivery.objects.get().last_error


def test_a_redirect_is_a_failure_not_followed(alice, alice_key, receiver, submit_job):
    receiver.replies["/hook"] = Reply(301, headers={"Location": receiver.url("/other")})
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())

    announce_and_send(generation)

    assert [r.path for r in receiver.received] == ["/hook"]
    assert WebhookDelivery.objects.get().last_error == "HTTP 301"


def test_a_private_address_is_refused_for_good_without_the_operators_consent(
    alice, alice_key, receiver, submit_job, settings
):
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    settings.PIXDASH_OUTBOUND_ALLOW_PRIVATE = False  # e.g. the operator turned it off since

    (delivery,) = announce_and_send(generation)

    assert receiver.received == []
    assert delivery.status == DeliveryStatus.FAILED  # no retries: it would stay refused


def test_redelivery_sends_the_same_message_again(alice, alice_key, receiver, submit_job):
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    (delivery,) = announce_and_send(generation)

    deliveries.redeliver(delivery=delivery)
    deliveries.attempt(delivery_id=delivery.pk)

    first, again = receiver.received
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert first.body == again.body
    assert WebhookDelivery.objects.get().attempts == 2


def test_a_test_event_goes_to_one_endpoint_even_when_disabled(alice, receiver, make_endpoint):
    endpoint = make_endpoint(alice, path="/mine")
    make_endpoint(alice, path="/other")
    endpoints.set_enabled(endpoint=endpoint, enabled=False)

    delivery = deliveries.send_test(endpoint=endpoint)
    deliveries.attempt(delivery_id=delivery.pk)

    (got,) = receiver.received
    body = verified(endpoint.secret, got)
    assert got.path == "/mine"
    assert body["type"] == "webhook.test"
    assert body["data"]["endpoint_url"] == endpoint.url


def test_a_disabled_endpoint_gets_no_more_task_events(
    alice, alice_key, receiver, submit_job, make_endpoint
):
    endpoint = make_endpoint(alice)
    alice.team.refresh_from_db()
    generation = submit_job(alice, key=alice_key)
    (delivery_id,) = deliveries.announce(generation_id=generation.pk)
    endpoints.set_enabled(endpoint=endpoint, enabled=False)

    deliveries.attempt(delivery_id=delivery_id)

    assert receiver.received == []
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED


def test_due_lists_pending_deliveries_whose_time_has_come(alice, alice_key, receiver, submit_job):
    receiver.replies["/hook"] = Reply(500)
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())
    (delivery_id,) = deliveries.announce(generation_id=generation.pk)
    now = timezone.now()

    assert deliveries.due(now=now) == [delivery_id]  # never attempted: due at once
    deliveries.attempt(delivery_id=delivery_id, now=now)
    assert deliveries.due(now=now + timedelta(seconds=4)) == []
    assert deliveries.due(now=now + timedelta(seconds=5)) == [delivery_id]


def test_an_upstream_failure_inside_the_task_does_not_leak_into_the_event(
    alice, alice_key, receiver, submit_job, fake_gemini
):
    fake_gemini.script = lambda request: UPSTREAM_500
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url(), run=False)
    jobs.abandon(generation_id=generation.pk, message="The job kept failing.")

    announce_and_send(generation)

    assert "Upstream answered 500" not in receiver.received[0].body.decode()
