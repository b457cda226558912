"""billing/statement.py, the billing page's read side: one query for the balance and what
goes with it, nothing written by looking, and a ledger listing that stays in the team."""

from decimal import Decimal

from django.utils import timezone

from billing import ledger, statement
from billing.models import BillingSettings, UsageDaily


def test_summary_is_one_query_after_folding_pending_usage(alice, django_assert_num_queries):
    BillingSettings.objects.create(team=alice.team, low_balance_threshold=Decimal(500))
    ledger.hold(team=alice.team, amount=Decimal(4), reference="r1")
    UsageDaily.objects.create(
        team=alice.team, day=timezone.localdate(), model="m", generations=1, credits=Decimal(14)
    )
    with django_assert_num_queries(2):  # the roll-up's DELETE (nothing pending), the summary
        summary = statement.summary(alice.team)
    assert summary.balance == Decimal("96.00")
    assert summary.on_hold == Decimal("4.00")
    assert summary.low  # 96 < 500
    assert summary.spent_last_7_days == Decimal("14.00")
    assert summary.forecast.daily_rate == Decimal("2.00")
    assert summary.forecast.days_left == 48


def test_looking_at_the_billing_page_writes_nothing(alice):
    assert alice.client.get(alice.url("billing")).status_code == 200
    assert not BillingSettings.objects.exists()
    summary = statement.summary(alice.team)
    assert summary.settings.low_balance_threshold is None and not summary.low


def test_the_listing_holds_only_the_teams_entries(alice, charlie):
    ledger.hold(team=charlie.team, amount=Decimal(1), reference="theirs")
    ledger.hold(team=alice.team, amount=Decimal(1), reference="ours")
    rows, cursor = statement.page(statement.entries(alice.team), None)
    assert [r.reference for r in rows] == ["ours", ""]  # the hold, then the starting grant
    assert cursor == ""


def test_pages_follow_each_other_without_gaps(alice, django_assert_num_queries):
    for i in range(7):
        ledger.hold(team=alice.team, amount=Decimal(1), reference=f"r{i}")
    seen, cursor = [], None
    while True:
        with django_assert_num_queries(1):
            rows, next_cursor = statement.page(statement.entries(alice.team), cursor, size=3)
        seen += [r.pk for r in rows]
        if not next_cursor:
            break
        cursor = statement.parse_cursor(next_cursor)
    assert len(seen) == len(set(seen)) == 8
    assert statement.parse_cursor("junk") is None
