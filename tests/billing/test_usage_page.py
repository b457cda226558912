"""The usage page: a stacked SVG chart per day and model, tables by model, key and member
that reconcile with the ledger, 7/30/90-day periods, CSV; members see their own usage."""

import csv
import io
from decimal import Decimal

import pytest

from billing.models import UsageDaily
from tests.ledger_audit import assert_ledger_invariants


@pytest.fixture(autouse=True)
def audit_ledger(db):
    yield
    assert_ledger_invariants()


@pytest.fixture
def usage(alice, bob, alice_key, run_job):
    run_job(alice, n=2)  # 4 credits
    run_job(alice, n=1, model="nano-banana-pro")  # 8
    run_job(bob, n=3)  # 6
    run_job(alice, n=1, api_key=alice_key.api_key, user=False)  # 2, counted for alice (key owner)


def test_managers_see_the_teams_totals_chart_and_tables(alice, usage):
    page = alice.client.get(alice.url("billing_usage"))

    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="total-credits">20<' in html
    assert 'data-testid="total-images">7<' in html
    assert html.count("<rect ") == 2  # one day, two models stacked
    assert "gemini-3-pro-image-preview: 8.00 credits, 1 images" in html
    report = page.context["report"]
    assert sum(r.credits for r in report.by_model) == report.total.credits == Decimal("20")
    assert sum(r.credits for r in report.by_key) == report.total.credits
    assert sum(r.credits for r in report.by_member) == report.total.credits
    assert {r.label: r.credits for r in report.by_member} == {
        "Alice": Decimal("12"),
        "Bob": Decimal("6"),
        "API keys": Decimal("2"),
    }


def test_members_see_their_own_usage_only(bob, usage):
    page = bob.client.get(bob.url("billing_usage"))

    assert page.context["report"].total.credits == Decimal("6")
    assert 'data-testid="by-member"' not in page.content.decode()


def test_a_members_usage_includes_calls_with_their_keys(alice, bob, bob_key, run_job):
    run_job(bob, n=1, api_key=bob_key.api_key, user=False)
    assert bob.client.get(bob.url("billing_usage")).context["report"].total.credits == Decimal("2")


def test_another_team_sees_none_of_it(charlie, usage):
    page = charlie.client.get(charlie.url("billing_usage"))
    assert page.context["report"].total.credits == 0
    assert "No usage in the last 30 days" in page.content.decode()


@pytest.mark.parametrize("days", [7, 30, 90])
def test_periods_and_the_images_measure(alice, usage, days):
    page = alice.client.get(alice.url("billing_usage"), {"days": days, "metric": "images"})
    assert page.context["days"] == days
    assert page.context["chart"].metric == "images"
    assert page.context["report"].total.images == 7


def test_a_bogus_period_falls_back_to_30_days(alice, usage):
    assert alice.client.get(alice.url("billing_usage"), {"days": "100000"}).context["days"] == 30


def test_usage_csv_has_day_model_key_and_member_rows(alice, alice_key, usage):
    response = alice.client.get(alice.url("billing_usage_csv"), {"days": 7})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sum(Decimal(r["credits"]) for r in rows) == Decimal("20.00")
    assert sum(int(r["images"]) for r in rows) == 7
    assert {(r["model"], r["api_key"], r["member"], r["credits"]) for r in rows} == {
        ("gemini-2.5-flash-image", "", "alice@acme.test", "4.00"),
        ("gemini-3-pro-image-preview", "", "alice@acme.test", "8.00"),
        ("gemini-2.5-flash-image", "", "bob@acme.test", "6.00"),
        ("gemini-2.5-flash-image", "alice-backend", "", "2.00"),
    }
    assert len(rows) == UsageDaily.objects.count()


def test_a_members_csv_has_only_their_rows(bob, usage):
    body = b"".join(bob.client.get(bob.url("billing_usage_csv")).streaming_content).decode()
    assert "alice@acme.test" not in body and "bob@acme.test" in body
