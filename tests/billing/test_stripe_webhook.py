"""The Stripe webhook: signatures checked with Stripe's own code over the raw body;
credits exactly once per Checkout Session (5 sequential and 5 concurrent deliveries),
only when paid, from our server-side pack (never metadata); refunds revoked by their
delta, never below zero; no secret → refuses. Headers are built with
stripe.WebhookSignature, as Stripe signs them; nothing touches the network."""

import json
import threading
import time
from decimal import Decimal

import pytest
import stripe
from django.db import connection
from django.test import Client
from django.urls import reverse

from billing import ledger
from billing.models import CheckoutSession, CheckoutStatus, EntryKind, LedgerEntry
from tests.conftest import STARTING_CREDITS
from tests.ledger_audit import assert_ledger_invariants

URL = reverse("stripe_webhook")
SECRET = "whsec_test_" + "s" * 24


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = SECRET


@pytest.fixture(autouse=True)
def audit_ledger(db):
    yield
    assert_ledger_invariants()


@pytest.fixture
def session(alice) -> CheckoutSession:
    return CheckoutSession.objects.create(
        public_id="cs_pd_test",
        stripe_session_id="cs_test_123",
        team=alice.team,
        user=alice.user,
        credits=Decimal("500"),
        amount=500,
        currency="usd",
    )


def completed(session_id="cs_test_123", payment_status="paid", metadata=None, amount=500):
    return {
        "id": "evt_1",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "payment_status": payment_status,
                "payment_intent": "pi_123",
                "amount_total": amount,
                "currency": "usd",
                "metadata": metadata or {},
            }
        },
    }


def refunded(amount_refunded: int):
    return {
        "id": "evt_2",
        "object": "event",
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "payment_intent": "pi_123",
                "amount": 500,
                "amount_refunded": amount_refunded,
            }
        },
    }


def deliver(event, *, secret=SECRET, timestamp=None, body=None, client=None, header=None):
    payload = body if body is not None else json.dumps(event)
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(
            json.dumps(event), secret, timestamp=timestamp
        )
    return (client or Client()).post(
        URL,
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": header} if header else {},
    )


def topups(team):
    return LedgerEntry.objects.filter(account__team=team, kind=EntryKind.TOPUP)


def test_a_paid_session_is_credited_with_the_server_side_pack(alice, session):
    response = deliver(completed())

    assert response.status_code == 200
    assert ledger.balance(alice.team) == STARTING_CREDITS + 500
    entry = topups(alice.team).get()
    assert entry.reference == "cs_test_123" and entry.amount == 500
    session.refresh_from_db()
    assert session.status == CheckoutStatus.PAID and session.payment_intent == "pi_123"


def test_five_deliveries_credit_once(alice, session):
    answers = [deliver(completed()).status_code for _ in range(5)]
    assert answers == [200] * 5
    assert topups(alice.team).count() == 1
    assert ledger.balance(alice.team) == STARTING_CREDITS + 500


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so deliveries cannot race there",
)
@pytest.mark.django_db(transaction=True)
def test_five_concurrent_deliveries_credit_once(alice, session):
    barrier = threading.Barrier(5)
    codes = []

    def post():
        try:
            barrier.wait()
            codes.append(deliver(completed()).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 5
    assert topups(alice.team).count() == 1
    assert ledger.balance(alice.team) == STARTING_CREDITS + 500
    assert_ledger_invariants()


def test_an_unpaid_session_is_not_credited(alice, session):
    assert deliver(completed(payment_status="unpaid")).status_code == 200
    assert not topups(alice.team).exists()
    assert CheckoutSession.objects.get(pk=session.pk).status == CheckoutStatus.OPEN


def test_forged_metadata_does_not_change_what_is_credited(alice, charlie, session):
    event = completed(metadata={"credits": "1000000", "team": charlie.team.slug})
    deliver(event)
    assert ledger.balance(alice.team) == STARTING_CREDITS + 500
    assert ledger.balance(charlie.team) == STARTING_CREDITS


def test_a_session_we_did_not_create_credits_nothing(alice, session):
    deliver(completed(session_id="cs_someone_elses", metadata={"pixdash_checkout": "cs_pd_test"}))
    assert not topups(alice.team).exists()


def test_a_paid_amount_that_differs_from_the_pack_credits_nothing(alice, session):
    deliver(completed(amount=1))
    assert not topups(alice.team).exists()


@pytest.mark.parametrize("case", ["missing", "wrong", "altered", "old", "garbage"])
def test_bad_signatures_are_400_and_credit_nothing(alice, session, case):
    event = completed()
    kwargs = {}
    if case == "missing":
        kwargs["header"] = ""
    elif case == "wrong":
        kwargs["secret"] = "whsec_not_ours"
    elif case == "altered":
        altered = completed()
        altered["data"]["object"]["id"] = "cs_test_123 "
        kwargs["body"] = json.dumps(altered)
    elif case == "old":
        kwargs["timestamp"] = int(time.time()) - 301
    elif case == "garbage":
        kwargs["header"] = "t=abc,v1=zzz"

    response = deliver(event, **kwargs)

    assert response.status_code == 400
    assert not topups(alice.team).exists()


@pytest.mark.parametrize("secret", ["", None])
def test_without_a_webhook_secret_it_refuses_and_never_verifies(alice, session, settings, secret):
    settings.STRIPE_WEBHOOK_SECRET = secret or ""
    # Signed with an empty key, the way a forger would if we verified against one.
    forged = stripe.WebhookSignature.generate_signature_header(json.dumps(completed()), "")
    response = deliver(completed(), header=forged)
    assert response.status_code == 503
    assert not topups(alice.team).exists()


def test_a_get_is_405(db):
    assert Client().get(URL).status_code == 405


def test_refunds_are_revoked_by_their_delta(alice, session):
    deliver(completed())
    deliver(refunded(200))  # 40% of 500 credits
    deliver(refunded(200))  # replay: nothing more
    assert ledger.balance(alice.team) == STARTING_CREDITS + 300
    deliver(refunded(500))  # the rest
    assert ledger.balance(alice.team) == STARTING_CREDITS
    adjustments = LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).order_by("id")
    assert [a.amount for a in adjustments] == [Decimal("-200"), Decimal("-300")]
    assert CheckoutSession.objects.get(pk=session.pk).status == CheckoutStatus.REFUNDED


def test_a_refund_of_spent_credits_never_goes_below_zero(alice, session):
    deliver(completed())
    ledger.hold(team=alice.team, amount=Decimal("550"), reference="spent")  # 50 left

    deliver(refunded(500))

    assert ledger.balance(alice.team) == 0
    session.refresh_from_db()
    assert session.credits_revoked == 500
    assert session.refund_shortfall == 450
    assert "shortfall 450.00" in LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT).reason


def test_a_refund_for_an_unknown_payment_changes_nothing(alice, session):
    deliver(refunded(500))
    assert ledger.balance(alice.team) == STARTING_CREDITS


# --- Correctly signed, oddly shaped ---------------------------------------------------


def deliver_raw(body: str):
    header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
    return Client().post(
        URL, data=body, content_type="application/json", headers={"Stripe-Signature": header}
    )


@pytest.mark.parametrize("body", ["[1, 2, 3]", '"checkout.session.completed"', "42", "null"])
def test_a_signed_body_that_is_not_an_object_is_a_400(body, session):
    response = deliver_raw(body)

    assert response.status_code == 400
    assert response.content.decode() == "The event body must be a JSON object."
    assert ledger.balance(session.team) == STARTING_CREDITS


@pytest.mark.parametrize("kind", ["checkout.session.completed", "charge.refunded"])
@pytest.mark.parametrize("obj", ["cs_test_123", ["cs_test_123"], 5, None])
def test_a_signed_event_whose_data_object_is_not_an_object_is_a_400(kind, obj, session):
    event = {"id": "evt_odd", "object": "event", "type": kind, "data": {"object": obj}}

    response = deliver_raw(json.dumps(event))

    assert response.status_code == 400
    assert "needs data.object to be an object" in response.content.decode()
    assert ledger.balance(session.team) == STARTING_CREDITS


def test_a_signed_event_whose_data_is_a_string_is_a_400(session):
    event = {"id": "evt_odd", "object": "event", "type": "charge.refunded", "data": "x"}

    assert deliver_raw(json.dumps(event)).status_code == 400


def test_a_signed_body_nested_100000_deep_is_a_400(session):
    response = deliver_raw("[" * 100_000 + "]" * 100_000)

    assert response.status_code == 400
    assert response.content.decode() == "The event body is nested too deeply."
