"""The Webhooks page: add an endpoint (secret shown once), enable/disable, send a test
event, delete; the delivery log with status and response time, and redeliver."""

import re

from tests.receiver import Reply
from webhooks import deliveries
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/=]{40,}")


def add(person, **fields):
    data = {"url": "https://hooks.example.com/px", "events": ["task.completed"], **fields}
    return person.client.post(person.url("webhook_create"), data)


def test_a_new_endpoints_secret_is_shown_once(alice):
    response = add(alice, description="Orders")

    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    shown = SECRET_RE.findall(response.content.decode())
    assert set(shown) == {endpoint.secret}
    assert response["Cache-Control"].startswith("max-age=0")
    page = alice.client.get(alice.url("webhooks")).content.decode()
    assert endpoint.secret not in page
    assert "https://hooks.example.com/px" in page and "Orders" in page
    assert endpoint.events == ["task.completed"] and endpoint.created_by == alice.user


def test_an_unsafe_url_is_refused_at_its_field(alice):
    response = add(alice, url="http://10.0.0.5/hook")

    assert response.status_code == 400
    assert 'id="id_url_error"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_choosing_no_event_is_refused(alice):
    response = add(alice, events=[])

    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()


def test_disable_enable_and_delete(alice):
    add(alice)
    endpoint = WebhookEndpoint.objects.get()

    alice.client.post(alice.url("webhook_toggle", endpoint.pk))
    assert WebhookEndpoint.objects.get().enabled is False
    assert "disabled" in alice.client.get(alice.url("webhooks")).content.decode()
    alice.client.post(alice.url("webhook_toggle", endpoint.pk))
    assert WebhookEndpoint.objects.get().enabled is True

    response = alice.client.post(alice.url("webhook_delete", endpoint.pk))
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_a_test_event_is_queued_and_logged(alice, queued, receiver, committed):
    add(alice, url=receiver.url("/px"))
    endpoint = WebhookEndpoint.objects.get()

    with committed():
        response = alice.client.post(alice.url("webhook_test", endpoint.pk))

    assert response.status_code == 302
    delivery = WebhookDelivery.objects.get()
    assert queued.sends == [(delivery.pk, None)]
    deliveries.attempt(delivery_id=delivery.pk)  # as the worker would
    log = alice.client.get(alice.url("webhooks")).content.decode()
    assert "webhook.test" in log
    assert "badge-delivered" in log
    assert re.search(r'data-label="HTTP">200<', log)
    assert re.search(r'data-label="Time">\d+ ms<', log)
    assert "Redeliver" in log


def test_redeliver_queues_the_same_message_again(alice, queued, receiver, committed):
    add(alice, url=receiver.url("/px"))
    delivery = deliveries.send_test(endpoint=WebhookEndpoint.objects.get())
    deliveries.attempt(delivery_id=delivery.pk)

    with committed():
        alice.client.post(alice.url("webhook_redeliver", delivery.pk))

    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
    assert queued.sends == [(delivery.pk, None)]


def test_a_failed_delivery_shows_its_error(alice, receiver):
    receiver.replies["/px"] = Reply(500)
    add(alice, url=receiver.url("/px"))
    delivery = deliveries.send_test(endpoint=WebhookEndpoint.objects.get())
    deliveries.attempt(delivery_id=delivery.pk)

    log = alice.client.get(alice.url("webhooks")).content.decode()

    assert "badge-pending" in log and "retry in" in log and "HTTP 500" in log


def test_members_see_the_page_but_cannot_change_it(alice, bob):
    add(alice)
    endpoint = WebhookEndpoint.objects.get()

    page = bob.client.get(bob.url("webhooks"))
    assert page.status_code == 200
    html = page.content.decode()
    assert endpoint.url in html
    assert "Add an endpoint" not in html and "Send test event" not in html
    assert add(bob, url="https://hooks.example.com/bob").status_code == 403
    assert bob.client.post(bob.url("webhook_delete", endpoint.pk)).status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_another_team_sees_none_of_it(alice, charlie):
    add(alice)

    html = charlie.client.get(charlie.url("webhooks")).content.decode()

    assert "hooks.example.com" not in html
    assert "No endpoints yet" in html
