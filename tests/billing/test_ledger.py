"""billing.ledger: exact credit arithmetic, holds settled exactly once, a balance that can
never go negative (the conditional UPDATE first, the database CHECK behind it), and the
grantcredits command. The money invariants are audited after every test.

The concurrency tests need PostgreSQL: on SQLite IMMEDIATE transactions serialise every
writer, so racing threads would prove nothing there.
"""

import threading
import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from billing import ledger
from billing.ledger import InsufficientCredits
from billing.models import CreditAccount, EntryKind, LedgerEntry
from pixdash.accounts.models import Team
from tests.conftest import STARTING_CREDITS
from tests.ledger_audit import assert_ledger_invariants

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so threads cannot race there",
)


@pytest.fixture(autouse=True)
def audit_ledger(db):
    """docs/RELIABILITY.md's money invariants, after every test in this module."""
    yield
    assert_ledger_invariants()


def entries(team, kind=None):
    found = LedgerEntry.objects.filter(account__team=team)
    return found.filter(kind=kind) if kind else found


# --- credit, hold, settle ---------------------------------------------------------------


def test_a_credit_adds_exactly_and_records_one_entry(alice):
    entry = ledger.credit(team=alice.team, amount="12.34", reason="goodwill", actor=alice.user)

    assert ledger.balance(alice.team) == Decimal("112.34")
    assert entry.kind == EntryKind.GRANT
    assert entry.amount == Decimal("12.34")
    assert entry.reason == "goodwill"
    assert entry.actor == alice.user


def test_decimal_arithmetic_does_not_drift(alice):
    # 0.1 + 0.2 is 0.30000000000000004 in floats; ten credits of 0.10 are exactly 1.
    for _ in range(10):
        ledger.credit(team=alice.team, amount=Decimal("0.10"), reason="dimes")

    assert ledger.balance(alice.team) == STARTING_CREDITS + Decimal("1.00")


def test_a_credit_must_be_positive_and_of_a_credit_kind(alice):
    for amount in ("0", "-5"):
        with pytest.raises(ValueError):
            ledger.credit(team=alice.team, amount=amount, reason="nothing")
    with pytest.raises(ValueError, match="not a kind of credit"):
        ledger.credit(team=alice.team, amount="5", kind=EntryKind.HOLD)

    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert entries(alice.team).count() == 1  # the test world's grant


def test_amounts_with_three_decimals_are_refused(alice):
    with pytest.raises(ValueError, match="two decimal places"):
        ledger.credit(team=alice.team, amount="1.005", reason="fractions")
    with pytest.raises(ValueError, match="two decimal places"):
        ledger.hold(team=alice.team, amount=Decimal("0.001"), reference="gen-a")
    ledger.hold(team=alice.team, amount=Decimal("1.00"), reference="gen-b")
    with pytest.raises(ValueError, match="two decimal places"):
        ledger.settle(reference="gen-b", charged=Decimal("0.999"), images=1)

    assert ledger.balance(alice.team) == Decimal("99.00")
    assert not ledger.is_settled("gen-b")
    assert not entries(alice.team, EntryKind.HOLD).filter(reference="gen-a").exists()


def test_amounts_that_are_not_finite_or_do_not_fit_the_column_are_a_value_error(alice):
    for amount in ("Infinity", "-Infinity", "NaN", "1e30", "1000000000000"):
        with pytest.raises(ValueError):
            ledger.credit(team=alice.team, amount=amount, reason="too much")

    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_a_hold_takes_the_amount_and_records_a_negative_entry(alice, alice_key):
    held = ledger.hold(
        team=alice.team,
        amount=Decimal("8.00"),
        reference="gen-1",
        model="nano-banana-pro",
        images=1,
        api_key=alice_key.api_key,
        user=alice.user,
    )

    assert held == ledger.Hold(reference="gen-1", amount=Decimal("8.00"))
    assert ledger.balance(alice.team) == Decimal("92.00")
    entry = entries(alice.team, EntryKind.HOLD).get()
    assert entry.amount == Decimal("-8.00")
    assert (entry.reference, entry.model, entry.images) == ("gen-1", "nano-banana-pro", 1)
    assert entry.api_key == alice_key.api_key
    assert entry.user == alice.user


def test_a_hold_of_the_whole_balance_leaves_zero(alice):
    ledger.hold(team=alice.team, amount=STARTING_CREDITS, reference="gen-all")

    assert ledger.balance(alice.team) == Decimal("0.00")


def test_a_hold_beyond_the_balance_raises_and_changes_nothing(alice):
    with pytest.raises(InsufficientCredits) as raised:
        ledger.hold(team=alice.team, amount=Decimal("100.01"), reference="gen-big")

    assert raised.value.needed == Decimal("100.01")
    assert raised.value.available == STARTING_CREDITS
    assert "100.01 needed, 100.00 available" in str(raised.value)
    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert not LedgerEntry.objects.filter(reference="gen-big").exists()


def test_a_hold_for_a_team_without_an_account_is_insufficient(db):
    broke = Team.objects.create(name="Broke", slug="broke")

    with pytest.raises(InsufficientCredits) as raised:
        ledger.hold(team=broke, amount=Decimal("1"), reference="gen-broke")

    assert raised.value.available == Decimal("0")
    assert ledger.balance(broke) == Decimal("0")


def test_a_negative_hold_is_refused_rather_than_minting_credits(alice):
    with pytest.raises(ValueError):
        ledger.hold(team=alice.team, amount=Decimal("-5.00"), reference="gen-neg")

    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert not LedgerEntry.objects.filter(reference="gen-neg").exists()


def test_settle_keeps_the_charge_and_releases_the_rest(alice):
    ledger.hold(team=alice.team, amount=Decimal("8.00"), reference="gen-1", images=4)

    assert ledger.settle(reference="gen-1", charged=Decimal("6.00"), images=3) is True

    assert ledger.balance(alice.team) == Decimal("94.00")
    release = entries(alice.team, EntryKind.RELEASE).get()
    assert release.amount == Decimal("2.00")
    assert release.images == 3
    assert ledger.is_settled("gen-1")


def test_settle_charging_everything_still_records_one_release(alice):
    ledger.hold(team=alice.team, amount=Decimal("4.00"), reference="gen-1")

    assert ledger.settle(reference="gen-1", charged=Decimal("4.00"), images=2)

    assert ledger.balance(alice.team) == Decimal("96.00")
    assert entries(alice.team, EntryKind.RELEASE).get().amount == Decimal("0.00")


def test_settle_charging_nothing_gives_everything_back(alice):
    ledger.hold(team=alice.team, amount=Decimal("4.00"), reference="gen-1")

    assert ledger.settle(reference="gen-1", charged=Decimal("0"), images=0)

    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_settling_twice_returns_false_and_releases_once(alice):
    ledger.hold(team=alice.team, amount=Decimal("8.00"), reference="gen-1")

    assert ledger.settle(reference="gen-1", charged=Decimal("2.00"), images=1) is True
    assert ledger.settle(reference="gen-1", charged=Decimal("0.00"), images=0) is False

    assert ledger.balance(alice.team) == Decimal("98.00")
    assert entries(alice.team, EntryKind.RELEASE).count() == 1


def test_settle_charging_more_than_was_held_is_a_value_error(alice):
    ledger.hold(team=alice.team, amount=Decimal("4.00"), reference="gen-1")

    with pytest.raises(ValueError, match="Cannot charge 4.01 against a hold of 4.00"):
        ledger.settle(reference="gen-1", charged=Decimal("4.01"), images=2)
    with pytest.raises(ValueError):
        ledger.settle(reference="gen-1", charged=Decimal("-1.00"), images=0)

    assert not ledger.is_settled("gen-1")
    assert ledger.balance(alice.team) == Decimal("96.00")


def test_settle_without_a_hold_raises(alice):
    with pytest.raises(LedgerEntry.DoesNotExist):
        ledger.settle(reference="gen-never-held", charged=Decimal("0"), images=0)


def test_a_second_hold_for_one_reference_is_refused(alice):
    ledger.hold(team=alice.team, amount=Decimal("2.00"), reference="gen-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        ledger.hold(team=alice.team, amount=Decimal("2.00"), reference="gen-1")

    assert ledger.balance(alice.team) == Decimal("98.00")


# --- the balance can never go negative ---------------------------------------------------


def test_a_direct_update_that_would_make_a_balance_negative_fails_in_the_database(alice):
    accounts = CreditAccount.objects.filter(team=alice.team)

    with pytest.raises(IntegrityError), transaction.atomic():
        accounts.update(balance=F("balance") - Decimal("100.01"))

    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_a_negative_adjustment_takes_credits_away(alice):
    entry = ledger.adjust(team=alice.team, amount="-30.50", reason="refund", actor=alice.user)

    assert entry.kind == EntryKind.ADJUSTMENT
    assert entry.amount == Decimal("-30.50")
    assert ledger.balance(alice.team) == Decimal("69.50")


def test_a_negative_adjustment_cannot_overdraw(alice):
    with pytest.raises(InsufficientCredits) as raised:
        ledger.adjust(team=alice.team, amount="-100.01", reason="clawback", actor=None)

    assert raised.value.needed == Decimal("100.01")
    assert ledger.balance(alice.team) == STARTING_CREDITS
    assert not entries(alice.team, EntryKind.ADJUSTMENT).exists()


def test_an_adjustment_needs_a_non_zero_amount_and_a_reason(alice):
    with pytest.raises(ValueError):
        ledger.adjust(team=alice.team, amount="0", reason="nothing", actor=None)
    with pytest.raises(ValueError):
        ledger.adjust(team=alice.team, amount="5", reason="   ", actor=None)

    assert not entries(alice.team, EntryKind.ADJUSTMENT).exists()


def test_a_positive_adjustment_adds(alice):
    ledger.adjust(team=alice.team, amount="5.25", reason="make good", actor=alice.user)

    assert ledger.balance(alice.team) == Decimal("105.25")


# --- read side ---------------------------------------------------------------------------


def test_credits_on_hold_counts_unsettled_holds_of_the_team_only(alice, charlie):
    ledger.hold(team=alice.team, amount=Decimal("8.00"), reference="gen-1")
    ledger.hold(team=alice.team, amount=Decimal("2.50"), reference="gen-2")
    ledger.hold(team=charlie.team, amount=Decimal("4.00"), reference="gen-3")
    ledger.settle(reference="gen-1", charged=Decimal("4.00"), images=1)

    assert ledger.credits_on_hold(alice.team) == Decimal("2.50")
    assert ledger.credits_on_hold(charlie.team) == Decimal("4.00")


def test_credits_on_hold_is_zero_with_no_holds(alice):
    assert ledger.credits_on_hold(alice.team) == Decimal("0")


def test_spent_by_key_since_counts_charges_and_open_holds_of_that_key(alice, alice_key, bob_key):
    key = alice_key.api_key
    ledger.hold(team=alice.team, amount=Decimal("8.00"), reference="gen-1", api_key=key)
    ledger.settle(reference="gen-1", charged=Decimal("6.00"), images=3)
    ledger.hold(team=alice.team, amount=Decimal("4.00"), reference="gen-2", api_key=key)
    ledger.hold(team=alice.team, amount=Decimal("2.00"), reference="gen-3", api_key=key)
    ledger.settle(reference="gen-3", charged=Decimal("0"), images=0)
    ledger.hold(team=alice.team, amount=Decimal("1.00"), reference="gen-4", api_key=bob_key.api_key)
    ledger.hold(team=alice.team, amount=Decimal("1.00"), reference="gen-5")  # from the browser
    since = timezone.now() - timedelta(minutes=1)

    assert ledger.spent_by_key_since(key, since) == Decimal("10.00")
    assert ledger.spent_by_key_since(bob_key.api_key, since) == Decimal("1.00")


def test_spent_by_key_since_ignores_generations_started_before(alice, alice_key):
    key = alice_key.api_key
    ledger.hold(team=alice.team, amount=Decimal("8.00"), reference="gen-old", api_key=key)
    LedgerEntry.objects.filter(reference="gen-old").update(
        created_at=timezone.now() - timedelta(days=40)
    )
    ledger.hold(team=alice.team, amount=Decimal("2.00"), reference="gen-new", api_key=key)

    assert ledger.spent_by_key_since(key, timezone.now() - timedelta(days=30)) == Decimal("2.00")
    assert ledger.spent_by_key_since(key, timezone.now() + timedelta(minutes=1)) == Decimal("0")


def test_balance_of_a_team_without_an_account_is_zero(db):
    assert ledger.balance(Team.objects.create(name="New", slug="new")) == Decimal("0")


# --- manage.py grantcredits ----------------------------------------------------------------


def grantcredits(*args: str) -> str:
    stdout = StringIO()
    call_command("grantcredits", *args, stdout=stdout)
    return stdout.getvalue()


def test_grantcredits_adds_credits_with_the_reason_and_prints_the_balance(alice):
    output = grantcredits("--team", alice.team.slug, "--credits", "12.50", "--reason", "beta")

    assert output.strip() == f"{alice.team.slug}: balance 112.50 credits"
    entry = entries(alice.team).first()
    assert (entry.kind, entry.amount) == (EntryKind.GRANT, Decimal("12.50"))
    assert entry.reason == "grantcredits: beta"


def test_grantcredits_refuses_an_unknown_team(alice):
    with pytest.raises(CommandError, match="No team with slug 'nope'"):
        grantcredits("--team", "nope", "--credits", "5", "--reason", "x")


@pytest.mark.parametrize(
    "credits", ["ten", "", "1,5", "0", "-5", "1.005", "NaN", "Infinity", "1e30"]
)
def test_grantcredits_refuses_a_bad_number(alice, credits):
    with pytest.raises(CommandError):
        grantcredits("--team", alice.team.slug, "--credits", credits, "--reason", "x")

    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_grantcredits_refuses_an_empty_reason(alice):
    with pytest.raises(CommandError, match="--reason"):
        grantcredits("--team", alice.team.slug, "--credits", "5", "--reason", "  ")

    assert ledger.balance(alice.team) == STARTING_CREDITS


# --- concurrency (PostgreSQL) --------------------------------------------------------------


def race(count: int, work) -> tuple[list, list[BaseException], float]:
    """Run ``work(i)`` in ``count`` threads released together; each thread hands its
    database connection back when done. Returns results, errors and the wall time."""
    barrier = threading.Barrier(count)
    results, errors = [], []
    lock = threading.Lock()

    def thread(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            result = work(i)
            with lock:
                results.append(result)
        except BaseException as error:  # collected and asserted on by the test
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(count)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors, time.monotonic() - started


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_200_concurrent_holds_on_a_balance_for_50_succeed_exactly_50_times(alice):
    results, errors, elapsed = race(
        200,
        lambda i: ledger.hold(team=alice.team, amount=Decimal("2.00"), reference=f"race-{i}"),
    )

    assert len(results) == 50
    assert len(errors) == 150
    assert all(isinstance(error, InsufficientCredits) for error in errors), errors[:3]
    assert ledger.balance(alice.team) == Decimal("0.00")
    assert entries(alice.team, EntryKind.HOLD).count() == 50
    print(f"200 concurrent holds in {elapsed:.2f}s")


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_settle_called_twice_concurrently_releases_once(alice):
    ledger.hold(team=alice.team, amount=Decimal("8.00"), reference="gen-dup")

    results, errors, elapsed = race(
        2, lambda i: ledger.settle(reference="gen-dup", charged=Decimal("2.00"), images=1)
    )

    assert not errors, errors
    assert sorted(results) == [False, True]
    assert entries(alice.team, EntryKind.RELEASE).count() == 1
    assert ledger.balance(alice.team) == Decimal("98.00")
    print(f"2 concurrent settles in {elapsed:.2f}s")
