"""The only code that writes ledger entries and balances.

Each function changes the balance by a conditional UPDATE and appends its entry in one
transaction. Debits use ``UPDATE ... SET balance = balance - x WHERE balance >= x``: on
PostgreSQL concurrent debits queue on the row lock and re-check the condition, on SQLite
IMMEDIATE transactions serialise writers, so a balance can never be overdrawn and the
database CHECK is only the last line of defence.

A generation holds ``n × price`` up front and settles once, releasing what was not
delivered; the unique (reference, kind) constraint turns a repeated settle into a no-op.
Settling also adds the charge to the UsageDaily rollup in the same transaction, so usage
pages and the ledger cannot disagree.

The low-balance e-mail is armed and fired here too, by conditional UPDATEs of
BillingSettings next to the balance change: one e-mail per crossing, whatever the race.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Subquery, Sum
from django.utils import timezone

from billing.models import (
    CREDIT_DIGITS,
    SETTLEMENT_KINDS,
    BillingSettings,
    CreditAccount,
    EntryKind,
    LedgerEntry,
    MemberLimit,
    UsageDaily,
)
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


def _credit(account: CreditAccount, amount: Decimal, *, unhold: Decimal = ZERO) -> None:
    """Add ``amount``; a settlement also takes its whole hold off ``on_hold``."""
    changes = {"balance": F("balance") + amount, "updated_at": timezone.now()}
    if unhold:
        changes["on_hold"] = F("on_hold") - unhold
    CreditAccount.objects.filter(pk=account.pk).update(**changes)


def _debit(account: CreditAccount, amount: Decimal, *, holding: bool = False) -> None:
    changes = {"balance": F("balance") - amount, "updated_at": timezone.now()}
    if holding:
        changes["on_hold"] = F("on_hold") + amount
    updated = CreditAccount.objects.filter(pk=account.pk, balance__gte=amount).update(**changes)
    if not updated:
        available = CreditAccount.objects.get(pk=account.pk).balance
        raise InsufficientCredits(needed=amount, available=available)
    _fire_low_balance_alert(account)


def _current_balance(account: CreditAccount) -> Subquery:
    return Subquery(CreditAccount.objects.filter(pk=account.pk).values("balance")[:1])


def _fire_low_balance_alert(account: CreditAccount) -> None:
    """After a debit: if the balance is now below the team's threshold and the alert is
    armed, disarm it and e-mail the managers after commit. The conditional UPDATE makes
    one debit of many concurrent ones the one that sends."""
    fired = BillingSettings.objects.filter(
        team_id=account.team_id,
        low_balance_alerted=False,
        low_balance_threshold__gt=_current_balance(account),
    ).update(low_balance_alerted=True)
    if fired:
        from billing import alerts  # alerts renders templates; keep the ledger import light

        transaction.on_commit(partial(alerts.send_low_balance_email, team_id=account.team_id))


def _rearm_low_balance_alert(account: CreditAccount) -> None:
    """After a top-up, grant or positive adjustment that lifts the balance back to the
    threshold or above, the next crossing e-mails again. Releases of unused holds do not
    re-arm: a balance hovering at the threshold would otherwise mail on every generation."""
    BillingSettings.objects.filter(
        team_id=account.team_id,
        low_balance_alerted=True,
        low_balance_threshold__lte=_current_balance(account),
    ).update(low_balance_alerted=False)


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
        _rearm_low_balance_alert(account)
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
            _rearm_low_balance_alert(account)
        else:
            _debit(account, -amount)
        return LedgerEntry.objects.create(
            account=account, kind=EntryKind.ADJUSTMENT, amount=amount, reason=reason, actor=actor
        )


def revoke_up_to(
    *, team: Team, amount: Decimal | int | str, reason: str, reference: str = ""
) -> tuple[Decimal, Decimal]:
    """Take back up to ``amount`` (a refunded top-up) without overdrawing: returns
    ``(taken, shortfall)``, the shortfall being credits already spent. The account row is
    locked so the amount taken is decided against a balance nobody else is changing."""
    amount = _exact(amount)
    if amount <= 0:
        raise ValueError("Revoke a positive amount.")
    with transaction.atomic():
        account = CreditAccount.objects.select_for_update().get(pk=account_for(team).pk)
        taken = min(amount, account.balance)
        shortfall = amount - taken
        if taken > 0:
            _debit(account, taken)
            note = f"{reason} (shortfall {shortfall:.2f}: already spent)" if shortfall else reason
            LedgerEntry.objects.create(
                account=account,
                kind=EntryKind.ADJUSTMENT,
                amount=-taken,
                reason=note,
                reference=reference,
            )
    return taken, shortfall


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
    end_user: str = "",
) -> Hold:
    """Reserve credits for a generation, or raise InsufficientCredits. Call inside the
    transaction that creates the generation, so a failed hold leaves no job behind."""
    amount = _exact(amount)
    if amount < 0:  # _debit() of a negative amount would add credits
        raise ValueError(f"A hold cannot be negative, got {amount}")
    with transaction.atomic():
        account = account_for(team)
        _debit(account, amount, holding=True)
        LedgerEntry.objects.create(
            account=account,
            kind=EntryKind.HOLD,
            amount=-amount,
            reference=reference,
            model=model,
            images=images,
            api_key=api_key,
            user=user,
            end_user=end_user,
        )
    return Hold(reference=reference, amount=amount)


def settle(*, reference: str, charged: Decimal, images: int, model: str = "") -> bool:
    """Settle a hold: keep ``charged``, give the rest back. Exactly once per reference.

    ``model`` names the model that made the images when it is not the one held for (a
    fallback); the release entry and the usage rollup are booked to it.

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
                    model=model or hold_entry.model,
                    images=images,
                    api_key_id=hold_entry.api_key_id,
                    user_id=hold_entry.user_id,
                )
        except IntegrityError:
            return False
        _credit(hold_entry.account, held - charged, unhold=held)
        if charged or images:
            _record_usage(
                hold_entry, model=model or hold_entry.model, credits=charged, images=images
            )
    return True


def _record_usage(hold_entry: LedgerEntry, *, model: str, credits: Decimal, images: int) -> None:
    """Add a settlement to its UsageDaily bucket: an F() increment, or the insert that
    creates the bucket. Two first settlements of a day racing both miss the UPDATE; the
    unique bucket index makes the second INSERT fail (on PostgreSQL it waits for the first
    to commit), and its retried UPDATE then finds the row."""
    bucket = UsageDaily.objects.filter(
        team_id=hold_entry.account.team_id,
        day=timezone.localdate(hold_entry.created_at),
        model=model,
        api_key_id=hold_entry.api_key_id,
        user_id=hold_entry.user_id,
        end_user=hold_entry.end_user,
    )
    increments = {
        "generations": F("generations") + 1,
        "images": F("images") + images,
        "credits": F("credits") + credits,
    }
    if bucket.update(**increments):
        return
    try:
        with transaction.atomic():
            UsageDaily.objects.create(
                team_id=hold_entry.account.team_id,
                day=timezone.localdate(hold_entry.created_at),
                model=model,
                api_key_id=hold_entry.api_key_id,
                user_id=hold_entry.user_id,
                end_user=hold_entry.end_user,
                generations=1,
                images=images,
                credits=credits,
            )
    except IntegrityError:
        if not bucket.update(**increments):
            raise


def is_settled(reference: str) -> bool:
    return LedgerEntry.objects.filter(reference=reference, kind=EntryKind.RELEASE).exists()


def credits_on_hold(team: Team) -> Decimal:
    """Credits held by generations that have not settled yet: a column kept by hold() and
    settle() next to the balance (summing unsettled holds took ~1 s at 1M ledger rows)."""
    return CreditAccount.objects.filter(team=team).values_list("on_hold", flat=True).first() or ZERO


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


def _spent(holds) -> Decimal:
    """Credits spent by the generations whose HOLD entries are ``holds``: what they were
    charged, or, while unsettled, what they hold."""
    total = LedgerEntry.objects.filter(
        reference__in=holds.values("reference"), kind__in=SETTLEMENT_KINDS
    ).aggregate(total=Sum("amount"))["total"]
    return -(total or ZERO)


def member_spending(user: User | int) -> Q:
    """Whose spending counts as a member's: their browser jobs, and API calls made with
    keys they created (API calls carry no user of their own)."""
    user_id = user if isinstance(user, int) else user.pk
    return Q(user_id=user_id) | Q(user__isnull=True, api_key__created_by_id=user_id)


def spent_by_member_since(team: Team, user: User | int, since: datetime) -> Decimal:
    holds = LedgerEntry.objects.filter(
        member_spending(user), account__team=team, kind=EntryKind.HOLD, created_at__gte=since
    )
    return _spent(holds)


def month_start(now: datetime | None = None) -> datetime:
    """Monthly limits run by calendar month in UTC."""
    now = (now or timezone.now()).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class SpendingLimitExceeded(Exception):
    """A per-key or per-member monthly limit would be exceeded; the message is for users."""


def check_spending_limits(
    *, team: Team, amount: Decimal, user: User | None = None, api_key: ApiKey | None = None
) -> None:
    """Refuse a hold of ``amount`` that would take the API key or the member over their
    monthly limit. Call inside the transaction that holds: the key and member-limit rows
    are locked (PostgreSQL; SQLite serialises writers), so two requests cannot both fit
    under the same limit."""
    check_key_limit(api_key=api_key, amount=amount)
    check_member_limit(team=team, user=user, api_key=api_key, amount=amount)


def check_key_limit(*, api_key: ApiKey | None, amount: Decimal) -> None:
    """The API key's monthly limit (see check_spending_limits)."""
    if api_key is None or api_key.monthly_credit_limit is None:
        return
    ApiKey.objects.select_for_update().filter(pk=api_key.pk).first()
    spent = spent_by_key_since(api_key, month_start())
    if spent + amount > api_key.monthly_credit_limit:
        raise SpendingLimitExceeded(
            f"This API key's monthly limit of {api_key.monthly_credit_limit:.2f} credits "
            f"would be exceeded ({spent:.2f} used, {amount:.2f} needed)."
        )


def check_member_limit(
    *, team: Team, amount: Decimal, user: User | None = None, api_key: ApiKey | None = None
) -> None:
    """The member's monthly cap: the signed-in user, or for an API call the key's creator
    (see member_spending)."""
    member_id = user.pk if user is not None else getattr(api_key, "created_by_id", None)
    if member_id is None:
        return
    limit = MemberLimit.objects.select_for_update().filter(team=team, user_id=member_id).first()
    if limit is None:
        return
    spent = spent_by_member_since(team, member_id, month_start())
    if spent + amount > limit.monthly_credit_limit:
        whose = "Your" if user is not None else "The key owner's"
        raise SpendingLimitExceeded(
            f"{whose} monthly spending cap of {limit.monthly_credit_limit:.2f} credits would "
            f"be exceeded ({spent:.2f} used, {amount:.2f} needed). Ask a team owner or admin "
            "to raise it."
        )
