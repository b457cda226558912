"""The only code that writes ledger entries and balances.

Each function changes the balance by a conditional UPDATE and appends its entry in one
transaction. Debits use ``UPDATE ... SET balance = balance - x WHERE balance >= x``: on
PostgreSQL concurrent debits queue on the row lock and re-check the condition, on SQLite
IMMEDIATE transactions serialise writers, so a balance can never be overdrawn and the
database CHECK is only the last line of defence.

A generation holds ``n × price`` up front and settles once, releasing what was not
delivered; the unique (reference, kind) constraint turns a repeated settle into a no-op.
Settling also appends the charge as a UsageEvent in the same transaction, which
billing.usage.roll_up() folds into the UsageDaily rollup before usage is read, so usage
pages and the ledger cannot disagree.

The low-balance e-mail is armed and fired here too, by conditional UPDATEs of
BillingSettings next to the balance change: one e-mail per crossing, whatever the race.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial

from django.db import connection, transaction
from django.db.models import Q, Subquery, Sum
from django.utils import timezone

from billing.models import (
    CREDIT_DIGITS,
    SETTLEMENT_KINDS,
    BillingSettings,
    CreditAccount,
    EntryKind,
    LedgerEntry,
    MemberLimit,
    UsageEvent,
)
from pixdash.accounts.models import ApiKey, Team, User
from pixdash.core import rows

ZERO = Decimal("0.00")
_ACCOUNTS = CreditAccount._meta.db_table
_SETTINGS = BillingSettings._meta.db_table
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
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_ACCOUNTS} SET balance = balance + %s, on_hold = on_hold - %s, "
            "updated_at = %s WHERE id = %s",
            [amount, unhold, _now(), account.pk],
        )


def _debit(account: CreditAccount, amount: Decimal) -> None:
    """Take ``amount`` if the balance covers it, else raise InsufficientCredits."""
    if _try_debit(account.team_id, amount) is None:
        available = CreditAccount.objects.get(pk=account.pk).balance
        raise InsufficientCredits(needed=amount, available=available)


def _try_debit(team_id: int, amount: Decimal, *, holding: bool = False) -> int | None:
    """Take ``amount`` from the team's account if its balance covers it (a hold also adds
    it to ``on_hold``) and return the account's id; None, with nothing written, if it does
    not (or the team has no account yet). One statement on the hot row: the conditional
    UPDATE, which also reads the new balance and the team's armed low-balance threshold."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_ACCOUNTS} SET balance = balance - %s, on_hold = on_hold + %s, "
            "updated_at = %s WHERE team_id = %s AND balance >= %s RETURNING id, balance, "
            f"(SELECT low_balance_threshold FROM {_SETTINGS} "
            "WHERE team_id = %s AND low_balance_alerted = %s)",
            [amount, amount if holding else ZERO, _now(), team_id, amount, team_id, False],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    account_id, balance, armed_threshold = row
    if armed_threshold is not None and _decimal(balance) < _decimal(armed_threshold):
        _fire_low_balance_alert(account_id, team_id)
    return account_id


def _decimal(value) -> Decimal:
    # SQLite hands numbers back as int or float; two decimals is what is stored.
    return Decimal(str(value)).quantize(CENT)


def _now():
    return CreditAccount._meta.get_field("updated_at").get_db_prep_save(timezone.now(), connection)


def _current_balance(account_id: int) -> Subquery:
    return Subquery(CreditAccount.objects.filter(pk=account_id).values("balance")[:1])


def _fire_low_balance_alert(account_id: int, team_id: int) -> None:
    """After a debit: if the balance is now below the team's threshold and the alert is
    armed, disarm it and e-mail the managers after commit. The conditional UPDATE makes
    one debit of many concurrent ones the one that sends."""
    fired = BillingSettings.objects.filter(
        team_id=team_id,
        low_balance_alerted=False,
        low_balance_threshold__gt=_current_balance(account_id),
    ).update(low_balance_alerted=True)
    if fired:
        from billing import alerts  # alerts renders templates; keep the ledger import light

        transaction.on_commit(partial(alerts.send_low_balance_email, team_id=team_id))


def _rearm_low_balance_alert(account: CreditAccount) -> None:
    """After a top-up, grant or positive adjustment that lifts the balance back to the
    threshold or above, the next crossing e-mails again. Releases of unused holds do not
    re-arm: a balance hovering at the threshold would otherwise mail on every generation."""
    BillingSettings.objects.filter(
        team_id=account.team_id,
        low_balance_alerted=True,
        low_balance_threshold__lte=_current_balance(account.pk),
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
    # No savepoint (two round trips saved per generation): a refusal is decided before
    # anything is written and raised outside the block, and any other failure must undo
    # the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        account_id = _try_debit(team.pk, amount, holding=True)
        if account_id is None and not CreditAccount.objects.filter(team=team).exists():
            account_id = _try_debit(account_for(team).team_id, amount, holding=True)
        if account_id is not None:
            rows.insert(
                LedgerEntry(
                    account_id=account_id,
                    kind=EntryKind.HOLD,
                    amount=-amount,
                    reference=reference,
                    model=model,
                    images=images,
                    api_key=api_key,
                    user=user,
                    end_user=end_user,
                )
            )
    if account_id is None:
        raise InsufficientCredits(needed=amount, available=balance(team))
    return Hold(reference=reference, amount=amount)


def settle(*, reference: str, charged: Decimal, images: int, model: str = "") -> bool:
    """Settle a hold: keep ``charged``, give the rest back. Exactly once per reference.

    ``model`` names the model that made the images when it is not the one held for (a
    fallback); the release entry and the usage rollup are booked to it.

    Returns False (and changes nothing) if the hold was already settled, so a duplicate
    task delivery or a sweeper racing a worker cannot release twice: the release entry is
    inserted ON CONFLICT DO NOTHING against the unique (reference, kind) index.
    """
    charged = _exact(charged)
    hold_entry = _hold_entry(reference)
    held = -hold_entry.amount
    if not ZERO <= charged <= held:
        raise ValueError(f"Cannot charge {charged} against a hold of {held}")
    with transaction.atomic(savepoint=False):  # see hold()
        release = LedgerEntry(
            account_id=hold_entry.account_id,
            kind=EntryKind.RELEASE,
            amount=held - charged,
            reference=reference,
            model=model or hold_entry.model,
            images=images,
            api_key_id=hold_entry.api_key_id,
            user_id=hold_entry.user_id,
        )
        if not rows.insert(release, ignore_conflicts=True):
            return False
        if charged or images:
            _record_usage(
                hold_entry, model=model or hold_entry.model, credits=charged, images=images
            )
        # Last: the team's account row is the one every request of the team updates, and
        # it stays locked from here until the commit.
        _credit(hold_entry.account, held - charged, unhold=held)
    return True


def _hold_entry(reference: str) -> LedgerEntry:
    """The HOLD entry of ``reference``, with its account."""
    sql = (
        f"SELECT {rows.columns(LedgerEntry, 'e')}, {rows.columns(CreditAccount, 'a')} "
        f"FROM {LedgerEntry._meta.db_table} e JOIN {_ACCOUNTS} a ON a.id = e.account_id "
        "WHERE e.reference = %s AND e.kind = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [reference, EntryKind.HOLD])
        row = cursor.fetchone()
    if row is None:
        raise LedgerEntry.DoesNotExist(f"No hold for {reference}")
    entry, account = rows.instances(row, (LedgerEntry, "e"), (CreditAccount, "a"))
    entry.account = account
    return entry


def _record_usage(hold_entry: LedgerEntry, *, model: str, credits: Decimal, images: int) -> None:
    """Append the settlement's usage; billing.usage.roll_up() folds it into UsageDaily."""
    rows.insert(
        UsageEvent(
            team_id=hold_entry.account.team_id,
            day=timezone.localdate(hold_entry.created_at),
            model=model,
            api_key_id=hold_entry.api_key_id,
            user_id=hold_entry.user_id,
            end_user=hold_entry.end_user,
            images=images,
            credits=credits,
        )
    )


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
