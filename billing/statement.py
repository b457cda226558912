"""The billing page's read side: the balance with what goes with it, and the ledger listing.

The listing reads as a statement, not as raw ledger rows. Each generation makes a hold and,
when it ends, a release, which read as "−8" then "+6" and that nobody outside accounting
follows: a statement shows one line per generation instead (held, charged, given back, with
what it bought); top-ups, codes, grants and corrections stay one line each. Paging stays on
the ledger's own rows: a page is its entries without releases, each hold joined to its
release by reference (one query) and to its receipt (billing.receipts, one batch).

Built for a team with a million ledger entries: the summary is one query (balance, credits
on hold, the low-balance settings and the last 7 days' spend from the usage rollup), and
the listing walks the (account, -created_at, -id) index newest first with a row-value
keyset cursor, so page 1 and page 20,000 cost the same. The account is named by a scalar
subquery, not a join: with ``account_id = (SELECT …)`` PostgreSQL reads the index in order
and stops after one page; through a join it sorted every entry of the team (~2 s).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from billing import ledger, receipts, rollup, usage
from billing.models import BillingSettings, CreditAccount, EntryKind, LedgerEntry, UsageDaily
from pixdash.accounts.models import Team, User
from pixdash.core.keyset import row_compare

ZERO = Decimal("0.00")
PAGE_SIZE = 50


@dataclass
class Summary:
    balance: Decimal
    on_hold: Decimal
    settings: BillingSettings  # unsaved defaults when the team never set anything
    spent_last_7_days: Decimal

    @property
    def low(self) -> bool:
        threshold = self.settings.low_balance_threshold
        return threshold is not None and self.balance < threshold

    @property
    def forecast(self) -> usage.Forecast:
        return usage.forecast_from(spent_last_7_days=self.spent_last_7_days, balance=self.balance)


def summary(team: Team) -> Summary:
    """Balance, credits on hold, low-balance settings and the 7-day spend: one query. Reads
    only: a team that never saved settings gets the defaults, unsaved (pending usage is
    folded into the rollup first, as every reader of it does)."""
    rollup.roll_up()
    start, end = usage.days_back(7)
    spent = (
        UsageDaily.objects.filter(team=OuterRef("team"), day__gte=start, day__lte=end)
        .order_by()
        .values("team")
        .annotate(total=Sum("credits"))
        .values("total")
    )
    row = (
        CreditAccount.objects.filter(team=team)
        .values(
            "balance",
            "on_hold",
            "team__billing_settings__id",
            "team__billing_settings__low_balance_threshold",
            "team__billing_settings__low_balance_alerted",
        )
        .annotate(spent=Subquery(spent, output_field=DecimalField()))
        .first()
    ) or {}
    settings = BillingSettings(
        id=row.get("team__billing_settings__id"),
        team=team,
        low_balance_threshold=row.get("team__billing_settings__low_balance_threshold"),
        low_balance_alerted=bool(row.get("team__billing_settings__low_balance_alerted")),
    )
    return Summary(
        balance=row.get("balance") or ZERO,
        on_hold=row.get("on_hold") or ZERO,
        settings=settings,
        spent_last_7_days=row.get("spent") or ZERO,
    )


def entries(team: Team, *, member: User | None = None) -> QuerySet[LedgerEntry]:
    """The team's ledger entries; with ``member``, only that member's spending."""
    account = CreditAccount.objects.filter(team=team).values("pk")[:1]
    rows = LedgerEntry.objects.filter(account_id=Subquery(account))
    if member is not None:
        rows = rows.filter(ledger.member_spending(member))
    return rows


def parse_cursor(raw: str) -> tuple[datetime, int] | None:
    """``<microseconds since epoch>.<id>`` of the last row shown; anything else: page 1."""
    stamp, _, pk = raw.partition(".")
    if not (stamp.isdigit() and pk.isdigit() and len(stamp) < 20 and len(pk) < 19):
        return None
    moment = datetime.fromtimestamp(int(stamp) / 1_000_000, tz=timezone.get_fixed_timezone(0))
    return moment, int(pk)


def cursor_of(entry: LedgerEntry) -> str:
    return f"{int(entry.created_at.timestamp() * 1_000_000)}.{entry.pk}"


def page(
    rows: QuerySet[LedgerEntry], cursor: tuple[datetime, int] | None, *, size: int = PAGE_SIZE
) -> tuple[list[LedgerEntry], str]:
    """One page, newest first, older than ``cursor``, and the cursor of the next page ("" at
    the end). Keyset on (created_at, id) with a row-value comparison (docs/PRODUCT.md: OFFSET and
    the ``Q(a<x) | Q(a=x, id<y)`` form both degrade with depth)."""
    if cursor is not None:
        moment, pk = cursor
        rows = rows.filter(row_compare(LedgerEntry, "<", moment, pk))
    found = list(
        rows.select_related("api_key", "user", "actor").order_by("-created_at", "-id")[: size + 1]
    )
    more = len(found) > size
    found = found[:size]
    return found, (cursor_of(found[-1]) if more else "")


# What each kind is called on the page, for people who are not operators.
WORDS = {
    EntryKind.TOPUP: "Card top-up",
    EntryKind.REDEEM: "Redeem code",
    EntryKind.GRANT: "Credits from the operator",
    EntryKind.ADJUSTMENT: "Correction",
    EntryKind.HOLD: "Generation",
    EntryKind.RELEASE: "Credits given back",
}


@dataclass
class Line:
    entry: LedgerEntry  # the hold for a generation, else the entry itself
    words: str
    amount: Decimal  # what it changed the balance by, in the end (or so far)
    held: Decimal | None = None
    released: Decimal | None = None
    settled: bool = True
    receipt: receipts.Receipt | None = None

    @property
    def is_generation(self) -> bool:
        return self.entry.kind == EntryKind.HOLD


def without_releases(entries: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    """The rows a statement pages over: a release is shown on its hold's line, read in the
    page's own query (a subquery on the reference index, for the page's holds only)."""
    release = LedgerEntry.objects.filter(
        reference=OuterRef("reference"), kind=EntryKind.RELEASE
    ).values("amount")[:1]
    return entries.exclude(kind=EntryKind.RELEASE).annotate(
        released_amount=Subquery(release, output_field=DecimalField())
    )


def lines(entries: list[LedgerEntry], *, team: Team) -> list[Line]:
    """A page of ``without_releases`` rows as statement lines."""
    holds = [entry.reference for entry in entries if entry.kind == EntryKind.HOLD]
    bought = receipts.find_many(holds, team=team)
    result = []
    for entry in entries:
        if entry.kind != EntryKind.HOLD:
            result.append(
                Line(entry=entry, words=WORDS.get(entry.kind, entry.kind), amount=entry.amount)
            )
            continue
        held = -entry.amount
        released = entry.released_amount
        settled = released is not None
        result.append(
            Line(
                entry=entry,
                words=WORDS[EntryKind.HOLD],
                amount=-(held - released) if settled else entry.amount,
                held=held,
                released=released,
                settled=settled,
                receipt=bought.get(entry.reference),
            )
        )
    return result
