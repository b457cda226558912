"""Starting a card top-up: the pack comes from settings, the row is recorded before Stripe
is asked, and Stripe's API is faked at the httpx transport (no network, ever)."""

from urllib.parse import parse_qs

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from billing import topups
from billing.models import CheckoutSession
from pixdash.settings import env_credit_packs


@pytest.fixture
def stripe_api(settings, monkeypatch):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/v1/checkout/sessions":
            return httpx.Response(
                200,
                json={
                    "id": "cs_test_new",
                    "object": "checkout.session",
                    "url": "https://checkout.stripe.com/c/pay/cs_test_new",
                },
            )
        return httpx.Response(404, json={"error": {"message": "no"}})

    monkeypatch.setattr(topups, "stripe_transport", httpx.MockTransport(handler))
    return requests


def test_it_creates_a_session_for_the_chosen_pack_and_redirects(alice, stripe_api):
    response = alice.client.post(alice.url("billing_checkout"), {"credits": "2000"})

    assert response.status_code == 302
    assert response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_new"
    row = CheckoutSession.objects.get()
    assert (row.team, row.credits, row.amount, row.currency) == (alice.team, 2000, 1800, "usd")
    assert row.stripe_session_id == "cs_test_new"
    (request,) = stripe_api
    form = parse_qs(request.content.decode())
    assert form["line_items[0][price_data][unit_amount]"] == ["1800"]
    assert form["client_reference_id"] == [row.public_id]
    assert request.headers["Idempotency-Key"] == row.public_id
    assert request.headers["Authorization"] == "Bearer sk_test_x"


def test_a_pack_not_on_the_price_list_is_refused(alice, stripe_api):
    alice.client.post(alice.url("billing_checkout"), {"credits": "1000000"})
    assert not CheckoutSession.objects.exists() and not stripe_api


def test_stripe_errors_read_plainly(alice, stripe_api, monkeypatch):
    monkeypatch.setattr(
        topups,
        "stripe_transport",
        httpx.MockTransport(
            lambda r: httpx.Response(400, json={"error": {"message": "bad", "type": "invalid"}})
        ),
    )
    response = alice.client.post(alice.url("billing_checkout"), {"credits": "500"}, follow=True)
    assert "could not start a checkout" in response.content.decode()


def test_members_cannot_top_up(alice, bob, stripe_api):
    assert bob.client.post(bob.url("billing_checkout"), {"credits": "500"}).status_code == 403
    assert not stripe_api


def test_packs_are_shown_only_when_stripe_is_configured(alice, settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    assert "Pay by card" not in alice.client.get(alice.url("billing")).content.decode()
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "sk_test_x", "whsec_x"
    html = alice.client.get(alice.url("billing")).content.decode()
    assert "Pay by card" in html and "2,000 credits" in html
    assert (
        alice.client.post(alice.url("billing_checkout"), {"credits": "500"}).status_code == 302
    )  # config checked


def test_without_stripe_the_checkout_view_says_so(alice, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = alice.client.post(alice.url("billing_checkout"), {"credits": "500"}, follow=True)
    assert not CheckoutSession.objects.exists()
    assert response.status_code == 200


@pytest.mark.parametrize(
    "raw",
    ["500", "500:5.001", "abc:5", "0:1", "500:0", "5:1,5:2", "500:nan", "-5:1", "500:5;2000:18"],
)
def test_malformed_pack_settings_stop_startup(monkeypatch, raw):
    monkeypatch.setenv("PIXDASH_CREDIT_PACKS", raw)
    with pytest.raises(ImproperlyConfigured):
        env_credit_packs("PIXDASH_CREDIT_PACKS", "")


def test_packs_parse(monkeypatch):
    monkeypatch.setenv("PIXDASH_CREDIT_PACKS", " 500:5.00, 2000:18 ")
    assert [(c, str(p)) for c, p in env_credit_packs("PIXDASH_CREDIT_PACKS", "")] == [
        (500, "5.00"),
        (2000, "18"),
    ]
