"""docs/RELIABILITY.md's money invariants, checked after every money test."""

from decimal import Decimal

from django.db.models import Sum

from billing.models import CreditAccount, EntryKind, LedgerEntry
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
