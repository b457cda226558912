"""The only code that writes ledger entries and balances.

Each function changes the balance by a conditional UPDATE and appends its entry in one
transaction. Debits use ``UPDATE ... SET balance = balance - x WHERE balance >= x``: on
PostgreSQL concurrent debits queue on the row lock and re-check the condition, on SQLite
IMMEDIATE transactions serialise writers, so a balance can never be overdrawn and the
database CHECK is only the last line of defence.

A generation holds ``n × price`` up front and settles once, releasing what was not
delivered; the unique (reference, kind) constraint turns a repeated settle into a no-op.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.models import CREDIT_DIGITS, SETTLEMENT_KINDS, CreditAccount, EntryKind, LedgerEntry
from pixdash.accounts.models import ApiKey, Team, User

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# Amounts must fit the ledger's DecimalField (12 digits before the point).
LIMIT = Decimal(10) ** (CREDIT_DIGITS["max_digits"] - CREDIT_DIGITS["decimal_places"])


class InsufficientCredits(Exception):
    def __init__(self, *, needed: Decimal, available: Decimal):
        self.needed, self.available = needed, available
        super().__init__(f"Not enough credits: {needed:.2f} needed, {available:.2f} available.")


def _exact(amount: Decimal | int | str) -> Decimal:
    try:
        value = Decimal(amount).quantize(CENT)
    except InvalidOperation:  # not a number, infinite, or too long to quantize
        raise ValueError(f"Not a credit amount: {amount!r}") from None
    if value != Decimal(amount):  # also catches NaN, which equals nothing
        raise ValueError(f"Credit amounts have two decimal places at most, got {amount}")
    if abs(value) >= LIMIT:
        raise ValueError(f"Credit amounts must be below {LIMIT:,}, got {amount}")
    return value


def account_for(team: Team) -> CreditAccount:
    account, _created = CreditAccount.objects.get_or_create(team=team)
    return account


def balance(team: Team) -> Decimal:
    return CreditAccount.objects.filter(team=team).values_list("balance", flat=True).first() or ZERO


def _credit(account: CreditAccount, amount: Decimal) -> None:
    CreditAccount.objects.filter(pk=account.pk).update(
        balance=F("balance") + amount, updated_at=timezone.now()
    )


def _debit(account: CreditAccount, amount: Decimal) -> None:
    updated = CreditAccount.objects.filter(pk=account.pk, balance__gte=amount).update(
        balance=F("balance") - amount, updated_at=timezone.now()
    )
    if not updated:
        available = CreditAccount.objects.get(pk=account.pk).balance
        raise InsufficientCredits(needed=amount, available=available)


def credit(
    *,
    team: Team,
    amount: Decimal | int | str,
    kind: str = EntryKind.GRANT,
    reason: str = "",
    reference: str = "",
    actor: User | None = None,
    user: User | None = None,
) -> LedgerEntry:
    """Add credits (grant, top-up, redeem)."""
    amount = _exact(amount)
    if amount <= 0:
        raise ValueError("A credit must be positive; use adjust() to take credits away.")
    if kind not in (EntryKind.GRANT, EntryKind.TOPUP, EntryKind.REDEEM):
        raise ValueError(f"{kind} is not a kind of credit")
    with transaction.atomic():
        account = account_for(team)
        _credit(account, amount)
        return LedgerEntry.objects.create(
            account=account,
            kind=kind,
            amount=amount,
            reason=reason,
            reference=reference,
            actor=actor,
            user=user,
        )


def adjust(
    *, team: Team, amount: Decimal | int | str, reason: str, actor: User | None
) -> LedgerEntry:
    """A signed correction by staff; a negative one cannot overdraw the balance."""
    amount = _exact(amount)
    if amount == 0 or not reason.strip():
        raise ValueError("An adjustment needs a non-zero amount and a reason.")
    with transaction.atomic():
        account = account_for(team)
        if amount > 0:
            _credit(account, amount)
        else:
            _debit(account, -amount)
        return LedgerEntry.objects.create(
            account=account, kind=EntryKind.ADJUSTMENT, amount=amount, reason=reason, actor=actor
        )


@dataclass(frozen=True)
class Hold:
    reference: str
    amount: Decimal


def hold(
    *,
    team: Team,
    amount: Decimal,
    reference: str,
    model: str = "",
    images: int = 0,
    api_key: ApiKey | None = None,
    user: User | None = None,
) -> Hold:
    """Reserve credits for a generation, or raise InsufficientCredits. Call inside the
    transaction that creates the generation, so a failed hold leaves no job behind."""
    amount = _exact(amount)
    if amount < 0:  # _debit() of a negative amount would add credits
        raise ValueError(f"A hold cannot be negative, got {amount}")
    with transaction.atomic():
        account = account_for(team)
        _debit(account, amount)
        LedgerEntry.objects.create(
            account=account,
            kind=EntryKind.HOLD,
            amount=-amount,
            reference=reference,
            model=model,
            images=images,
            api_key=api_key,
            user=user,
        )
    return Hold(reference=reference, amount=amount)


def settle(*, reference: str, charged: Decimal, images: int) -> bool:
    """Settle a hold: keep ``charged``, give the rest back. Exactly once per reference.

    Returns False (and changes nothing) if the hold was already settled, so a duplicate
    task delivery or a sweeper racing a worker cannot release twice.
    """
    charged = _exact(charged)
    with transaction.atomic():
        hold_entry = LedgerEntry.objects.select_related("account").get(
            reference=reference, kind=EntryKind.HOLD
        )
        held = -hold_entry.amount
        if not ZERO <= charged <= held:
            raise ValueError(f"Cannot charge {charged} against a hold of {held}")
        try:
            with transaction.atomic():
                LedgerEntry.objects.create(
                    account=hold_entry.account,
                    kind=EntryKind.RELEASE,
                    amount=held - charged,
                    reference=reference,
                    model=hold_entry.model,
                    images=images,
                    api_key_id=hold_entry.api_key_id,
                    user_id=hold_entry.user_id,
                )
        except IntegrityError:
            return False
        if held > charged:
            _credit(hold_entry.account, held - charged)
    return True


def is_settled(reference: str) -> bool:
    return LedgerEntry.objects.filter(reference=reference, kind=EntryKind.RELEASE).exists()


def credits_on_hold(team: Team) -> Decimal:
    """Credits held by generations that have not settled yet."""
    settled = LedgerEntry.objects.filter(account__team=team, kind=EntryKind.RELEASE).values(
        "reference"
    )
    total = (
        LedgerEntry.objects.filter(account__team=team, kind=EntryKind.HOLD)
        .exclude(reference__in=settled)
        .aggregate(total=Sum("amount"))["total"]
    )
    return -(total or ZERO)


def spent_by_key_since(api_key: ApiKey, since) -> Decimal:
    """Credits spent by the key's generations started since ``since``: what they charged,
    or, while unsettled, what they hold."""
    references = LedgerEntry.objects.filter(
        api_key=api_key, kind=EntryKind.HOLD, created_at__gte=since
    ).values("reference")
    total = LedgerEntry.objects.filter(
        reference__in=references, kind__in=SETTLEMENT_KINDS
    ).aggregate(total=Sum("amount"))["total"]
    return -(total or ZERO)
