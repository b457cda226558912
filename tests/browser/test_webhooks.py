"""The Webhooks page in a real browser: add an endpoint (the secret shown once), send a
test event that reaches a real receiver, read the delivery log, disable the endpoint;
desktop and phone widths."""

import re

import pytest
from playwright.sync_api import expect

from pixdash.accounts.teams import sign_up
from tests.browser.test_team_and_keys import _assert_every_visible_field_is_labelled
from tests.receiver import Receiver
from webhooks import deliveries, signing, tasks
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def receiver(settings):
    settings.PIXDASH_OUTBOUND_ALLOW_PRIVATE = True
    with Receiver() as running:
        yield running


@pytest.fixture
def sends_at_once(monkeypatch):
    """No worker here: a queued send is attempted at once, in the live server's thread."""
    monkeypatch.setattr(tasks.send_delivery, "delay", lambda pk: deliveries.attempt(delivery_id=pk))


def test_a_manager_adds_an_endpoint_tests_it_and_reads_the_log(
    new_page, live_server, log_in, screenshot, receiver, sends_at_once, transactional_db
):
    user = sign_up(email="wanda@example.test", password="pw-long-enough-1", name="Wanda")
    page = log_in(new_page(viewport=DESKTOP), user, f"/t/{user.current_team.slug}/keys/")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    _assert_every_visible_field_is_labelled(page)

    page.get_by_label("Endpoint URL").fill(receiver.url("/pixdash"))
    page.get_by_label("Description (optional)").fill("Order fulfilment")
    page.get_by_label("task.failed").uncheck()
    page.get_by_role("button", name="Add endpoint").click()

    secret = page.get_by_test_id("endpoint-secret")
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    endpoint = WebhookEndpoint.objects.get()
    assert secret.inner_text().strip() == endpoint.secret
    assert endpoint.events == ["task.completed", "task.canceled"]
    screenshot(page, "webhooks-new-endpoint")

    page.get_by_role("button", name="Send test event").click()
    log = page.get_by_test_id("delivery-log")
    expect(log).to_contain_text("webhook.test")
    expect(log.locator(".badge")).to_have_text("delivered")
    expect(log).to_contain_text(re.compile(r"\d+ ms"))
    expect(page.get_by_test_id("endpoint-secret")).to_have_count(0)  # shown once only
    (got,) = receiver.received
    assert signing.verify(secret=endpoint.secret, headers=got.headers, body=got.body)
    screenshot(page, "webhooks-log")

    page.get_by_role("button", name="Disable").click()
    expect(page.locator(f"#endpoint-{endpoint.pk} .badge")).to_have_text("disabled")

    phone = log_in(new_page(viewport=PHONE), user, f"/t/{user.current_team.slug}/webhooks/")
    expect(phone.get_by_test_id("delivery-log")).to_contain_text("webhook.test")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    screenshot(phone, "webhooks-phone")
