"""docs/RELIABILITY.md's money invariants, checked after every money test."""

from decimal import Decimal

from django.db.models import Sum

from billing import rollup
from billing.models import CreditAccount, EntryKind, LedgerEntry, UsageDaily
from generator.models import Generation, OutputImage


def assert_ledger_invariants() -> None:
    for account in CreditAccount.objects.all():
        total = account.entries.aggregate(total=Sum("amount"))["total"] or Decimal(0)
        assert account.balance == total, f"{account.team}: balance {account.balance} != {total}"
        assert account.balance >= 0
        settled = account.entries.filter(kind=EntryKind.RELEASE).values("reference")
        unsettled = account.entries.filter(kind=EntryKind.HOLD).exclude(reference__in=settled)
        held = -(unsettled.aggregate(total=Sum("amount"))["total"] or Decimal(0))
        assert account.on_hold == held, f"{account.team}: on_hold {account.on_hold} != {held}"
        _assert_usage_matches_settlements(account, settled)

    for generation in Generation.objects.all():
        entries = LedgerEntry.objects.filter(reference=generation.public_id)
        holds = entries.filter(kind=EntryKind.HOLD)
        releases = entries.filter(kind=EntryKind.RELEASE)
        assert holds.count() == 1, f"{generation}: {holds.count()} holds"
        assert -holds.get().amount == generation.credits_held
        stored = OutputImage.objects.filter(generation=generation).count()
        if generation.is_finished:
            assert releases.count() == 1, f"{generation}: {releases.count()} releases"
            charged = -(holds.get().amount + releases.get().amount)
            assert charged == generation.credits_charged, generation
            assert charged == generation.unit_price * generation.images_delivered, generation
            assert stored == generation.images_delivered, generation
        else:
            assert releases.count() == 0, f"{generation} settled while {generation.status}"
            assert stored == 0


def _assert_usage_matches_settlements(account: CreditAccount, settled) -> None:
    """The usage rollup, once every pending settlement is folded in, books exactly what
    the ledger charged the team's settled generations."""
    rollup.roll_up()
    booked = UsageDaily.objects.filter(team_id=account.team_id).aggregate(total=Sum("credits"))
    settlements = account.entries.filter(
        reference__in=settled, kind__in=[EntryKind.HOLD, EntryKind.RELEASE]
    ).aggregate(total=Sum("amount"))
    charged = -(settlements["total"] or Decimal(0))
    assert (booked["total"] or Decimal(0)) == charged, f"{account.team}: usage != charges"
