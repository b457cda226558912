"""UsageDaily is folded from the usage ledger.settle() records (billing/rollup.py): after
real pipeline runs (successes, partial failures, total failures) and a roll-up, its totals
equal the ledger's settled charges, per team, model, key and member; concurrent settlements
and concurrent roll-ups count each settlement exactly once, in one bucket (PostgreSQL)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from billing import ledger, rollup
from billing.models import EntryKind, LedgerEntry, UsageDaily, UsageEvent
from generator.providers.base import ErrorCode, ProviderError
from tests.generator.conftest import fail_index
from tests.ledger_audit import assert_ledger_invariants

pytestmark = pytest.mark.usefixtures("audit_ledger")


@pytest.fixture
def audit_ledger(db):
    yield
    assert_ledger_invariants()


def settled_charges(**filters) -> Decimal:
    """-(HOLD + RELEASE) over the settled references: what the ledger says was spent."""
    settled = LedgerEntry.objects.filter(kind=EntryKind.RELEASE, **filters).values("reference")
    total = LedgerEntry.objects.filter(
        reference__in=settled, kind__in=[EntryKind.HOLD, EntryKind.RELEASE]
    ).aggregate(t=Sum("amount"))["t"]
    return -(total or Decimal(0))


def usage_total(**filters) -> tuple[Decimal, int]:
    rollup.roll_up()
    totals = UsageDaily.objects.filter(**filters).aggregate(c=Sum("credits"), i=Sum("images"))
    return totals["c"] or Decimal(0), totals["i"] or 0


def test_usage_totals_equal_the_ledgers_settled_charges_after_pipeline_runs(
    alice, bob, charlie, alice_key, run_job, fake_gemini
):
    run_job(alice, n=2)
    run_job(alice, n=1, model="nano-banana-pro")
    run_job(bob, n=3)
    run_job(alice, n=2, api_key=alice_key.api_key, user=False)
    fake_gemini.script = fail_index(1, ProviderError("boom", code=ErrorCode.PROMPT_REJECTED))
    partial = run_job(alice, n=3)
    fake_gemini.script = lambda request: ProviderError("no", code=ErrorCode.PROMPT_REJECTED)
    failed = run_job(charlie, n=2)

    assert partial.images_delivered == 2
    assert failed.images_delivered == 0
    for team in (alice.team, charlie.team):
        credits, images = usage_total(team=team)
        assert credits == settled_charges(account__team=team)
    # 2 images × 2 + 1 × 8 (pro) + 3 × 2 (bob) + 2 × 2 (key) + 2 delivered of 3 × 2
    assert usage_total(team=alice.team) == (Decimal("26.00"), 10)
    # Per member and per key the rollup still reconciles with the ledger.
    assert usage_total(team=alice.team, user=bob.user)[0] == settled_charges(user=bob.user)
    assert usage_total(api_key=alice_key.api_key)[0] == settled_charges(api_key=alice_key.api_key)
    assert usage_total(team=charlie.team) == (Decimal("0"), 0)
    assert not UsageDaily.objects.filter(team=charlie.team).exists()


def test_a_repeated_settle_does_not_count_twice(alice, run_job):
    generation = run_job(alice, n=2)

    assert not ledger.settle(reference=generation.public_id, charged=Decimal("4"), images=2)
    assert usage_total(team=alice.team) == (Decimal("4.00"), 2)


def test_one_bucket_per_day_model_key_and_member(alice, bob, alice_key, run_job):
    for _ in range(3):
        run_job(alice)
    run_job(bob)
    run_job(alice, api_key=alice_key.api_key, user=False)

    assert rollup.roll_up() == 5
    assert UsageDaily.objects.filter(team=alice.team).count() == 3
    mine = UsageDaily.objects.get(user=alice.user)
    assert (mine.generations, mine.images, mine.credits) == (3, 3, Decimal("6.00"))


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so settlements cannot race there",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_settlements_and_roll_ups_count_each_settlement_once(alice):
    references = [f"race-{i}" for i in range(20)]
    for reference in references:
        ledger.hold(
            team=alice.team,
            amount=Decimal("2"),
            reference=reference,
            model="m",
            images=1,
            user=alice.user,
        )
    barrier = threading.Barrier(len(references))
    errors = []

    def settle_then_roll_up(reference):
        try:
            barrier.wait()
            ledger.settle(reference=reference, charged=Decimal("2"), images=1)
            rollup.roll_up()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle_then_roll_up, args=(r,)) for r in references]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert not UsageEvent.objects.exists()
    bucket = UsageDaily.objects.get(team=alice.team)
    assert (bucket.generations, bucket.images, bucket.credits) == (20, 20, Decimal("40.00"))
    assert_ledger_invariants()
