"""The read side of billing: usage by day, model, API key and member, from UsageDaily.

UsageDaily is folded from what ledger.settle() records (billing/rollup.py), and scope()
folds whatever is pending before anything is read, so every figure here reconciles
exactly with the ledger (settled charges; unsettled holds are shown as
"on hold", not as usage). Members see their own usage, managers the team's: ``scope()``
is the one place that decides which rows a viewer may aggregate.

The usage page asks the rollup twice: ``totals()`` per model, key and member (names joined)
for its tables and the month's spending per key and member, ``daily()`` per day and model
for its chart; never the raw ledger, which at a million entries took ~345 ms per sum.
"""

import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from billing import ledger, rollup
from billing.models import CreditAccount, EntryKind, LedgerEntry, UsageDaily
from pixdash.accounts.models import ApiKey, Team, User

ZERO = Decimal("0.00")
PERIODS = (7, 30, 90)
# Stacked bars need a colour per model; the palette cycles past eight models.
PALETTE = ("#5b3df5", "#ff6aa8", "#18a058", "#f0a020", "#2c62c9", "#9b59b6", "#14b8a6", "#e4572e")


def scope(team: Team, *, member: User | None = None) -> QuerySet[UsageDaily]:
    """The team's usage rows; with ``member``, only that member's (their browser jobs and
    calls with keys they created: see ledger.member_spending)."""
    rollup.roll_up()
    rows = UsageDaily.objects.filter(team=team)
    if member is not None:
        rows = rows.filter(Q(user=member) | Q(user__isnull=True, api_key__created_by=member))
    return rows


def models_used(team: Team) -> list[str]:
    """The models the team has used, for filter menus: read as the rollup stands (the page
    showing them folds pending usage through summary() or scope() already)."""
    rows = UsageDaily.objects.filter(team=team).order_by("model")
    return list(rows.values_list("model", flat=True).distinct())


def for_end_user(rows: QuerySet[UsageDaily], end_user: str | None) -> QuerySet[UsageDaily]:
    """Only the usage of one end user (the OpenAI ``user`` field of API calls); with None,
    all of it. An empty string is the usage sent without the field."""
    return rows if end_user is None else rows.filter(end_user=end_user)


def days_back(days: int, *, today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return today - timedelta(days=days - 1), today


@dataclass
class Row:
    label: str
    images: int = 0
    credits: Decimal = ZERO
    generations: int = 0
    detail: str = ""
    share: float = 0.0  # of the period's credits, for the inline bar


@dataclass
class Report:
    start: date
    end: date
    by_model: list[Row]
    by_key: list[Row]
    by_member: list[Row]
    by_end_user: list[Row]
    total: Row
    days: list[date] = field(default_factory=list)


def _table(buckets: dict, label) -> list[Row]:
    rows = [
        Row(label=label(key)[0], detail=label(key)[1], images=i, credits=c, generations=g)
        for key, (g, i, c) in buckets.items()
    ]
    return sorted(rows, key=lambda row: (-row.credits, row.label))


def totals(
    rows: QuerySet[UsageDaily], *, start: date, end: date, month_from: date | None = None
) -> list[dict]:
    """The rollup per model, key, member and end user with the key's and member's names,
    summed over the period ``start``–``end`` and (``month_credits``) from ``month_from`` to
    ``end``: one query, a row per model × key × member × end user."""
    month_from = month_from or start
    period = Q(day__gte=start)
    return list(
        rows.filter(day__gte=min(start, month_from), day__lte=end)
        .values(
            "model",
            "api_key",
            "user",
            "api_key__name",
            "api_key__prefix",
            "api_key__created_by",
            "user__name",
            "user__email",
            "end_user",
        )
        .annotate(
            # First: once "credits" names the period's sum, Sum("credits") would mean it.
            month_credits=Sum("credits", filter=Q(day__gte=month_from)),
            images=Sum("images", filter=period),
            credits=Sum("credits", filter=period),
            generations=Sum("generations", filter=period),
        )
        .order_by()
    )


def daily(rows: QuerySet[UsageDaily], *, start: date, end: date) -> list[dict]:
    """The rollup per day and model over the period: one query, for the chart."""
    return list(
        rows.filter(day__gte=start, day__lte=end)
        .values("day", "model")
        .annotate(images=Sum("images"), credits=Sum("credits"))
        .order_by()
    )


def report(
    rows: QuerySet[UsageDaily] | list[dict],
    *,
    start: date,
    end: date,
    end_user: str | None = None,
) -> Report:
    """Tables by model, key, member and end user, folded four ways from ``totals()`` (a
    QuerySet is summed first), so the tables and the total cannot disagree. With
    ``end_user``, only that end user's rows (see for_end_user)."""
    groups = totals(rows, start=start, end=end) if isinstance(rows, QuerySet) else rows
    if end_user is not None:
        groups = [g for g in groups if g["end_user"] == end_user]
    by = {
        "model": defaultdict(lambda: [0, 0, ZERO]),
        "api_key": defaultdict(lambda: [0, 0, ZERO]),
        "user": defaultdict(lambda: [0, 0, ZERO]),
        "end_user": defaultdict(lambda: [0, 0, ZERO]),
    }
    names: dict[tuple[str, int], tuple[str, str]] = {}
    total = Row(label="Total")
    for values in groups:
        if values["generations"] is None:  # used this month, not in the period
            continue
        for field_name, buckets in by.items():
            bucket = buckets[values[field_name]]
            bucket[0] += values["generations"] or 0
            bucket[1] += values["images"] or 0
            bucket[2] += values["credits"] or ZERO
        total.generations += values["generations"] or 0
        total.images += values["images"] or 0
        total.credits += values["credits"] or ZERO
        if values["api_key"]:
            names["key", values["api_key"]] = (
                values["api_key__name"],
                f"{values['api_key__prefix']}…",
            )
        if values["user"]:
            # User.get_full_name(): the name, or the address when there is none.
            names["user", values["user"]] = (
                values["user__name"] or values["user__email"],
                values["user__email"],
            )

    def key_label(pk):
        if pk is None:
            return "Browser", "generator page"
        return names["key", pk]

    def member_label(pk):
        if pk is None:
            return "API keys", "calls carry the key, not a member"
        return names["user", pk]

    by_model = _table(by["model"], lambda m: (m or "—", ""))
    by_key = _table(by["api_key"], key_label)
    by_member = _table(by["user"], member_label)
    by_end_user = _table(
        by["end_user"], lambda e: (e, "") if e else ("—", "sent without the user field")
    )
    for row in (*by_model, *by_key, *by_member, *by_end_user):
        row.share = float(row.credits / total.credits * 100) if total.credits else 0.0
    return Report(
        start=start,
        end=end,
        by_model=by_model,
        by_key=by_key,
        by_member=by_member,
        by_end_user=by_end_user,
        total=total,
    )


# --- The stacked bar chart -------------------------------------------------------------


@dataclass
class Bar:
    # SVG coordinates as text: a template renders a float through number localisation,
    # which for a 90-day chart was ~1,500 calls and most of the page's time.
    x: str
    y: str
    width: str
    height: str
    color: str
    title: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    legend: list[tuple[str, str]]
    gridlines: list[tuple[float, str]]
    labels: list[tuple[float, str]]
    metric: str
    empty: bool


CHART_W, CHART_H, PAD_LEFT, PAD_RIGHT, PAD_BOTTOM, PAD_TOP = 720, 240, 44, 24, 24, 8


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def chart(
    rows: QuerySet[UsageDaily] | list[dict], *, start: date, end: date, metric: str = "credits"
) -> Chart:
    """Per day, one bar stacked by model, as coordinates for an inline SVG in the template
    (no JavaScript charting library: the page is readable as served). Drawn from
    ``daily()`` (a QuerySet is summed first)."""
    groups = daily(rows, start=start, end=end) if isinstance(rows, QuerySet) else rows
    field_name = "images" if metric == "images" else "credits"
    per_day: dict[date, dict[str, float]] = defaultdict(dict)
    images: dict[tuple[date, str], int] = {}
    credits: dict[tuple[date, str], Decimal] = {}
    for values in groups:
        day, model = values["day"], values["model"] or "—"
        per_day[day][model] = float(values[field_name] or 0)
        images[day, model] = values["images"] or 0
        credits[day, model] = values["credits"] or ZERO
    models = sorted({m for day in per_day.values() for m in day})
    colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    peak = _nice_ceiling(max((sum(d.values()) for d in per_day.values()), default=0))
    plot_w, plot_h = CHART_W - PAD_LEFT - PAD_RIGHT, CHART_H - PAD_BOTTOM - PAD_TOP
    slot = plot_w / len(days)
    bar_w = max(slot * 0.7, 1.0)
    bars = []
    for i, day in enumerate(days):
        y = PAD_TOP + plot_h
        for model in models:
            value = per_day.get(day, {}).get(model, 0)
            if not value:
                continue
            height = value / peak * plot_h
            y -= height
            bars.append(
                Bar(
                    x=_coordinate(PAD_LEFT + i * slot + (slot - bar_w) / 2),
                    y=_coordinate(y),
                    width=_coordinate(bar_w),
                    height=_coordinate(max(height, 0.5)),
                    color=colors[model],
                    title=f"{day:%d %b} · {model}: {credits[day, model]:.2f} credits, "
                    f"{images[day, model]} images",
                )
            )
    gridlines = [
        (round(PAD_TOP + plot_h - plot_h * f, 2), _fmt(peak * f)) for f in (0, 0.25, 0.5, 0.75, 1)
    ]
    every = max(1, len(days) // 7)
    labels = [
        (round(PAD_LEFT + i * slot + slot / 2, 2), f"{day:%-d %b}")
        for i, day in enumerate(days)
        if (len(days) - 1 - i) % every == 0
    ]
    return Chart(
        width=CHART_W,
        height=CHART_H,
        bars=bars,
        legend=[(m, colors[m]) for m in models],
        gridlines=gridlines,
        labels=labels,
        metric=field_name,
        empty=not bars,
    )


def _coordinate(value: float) -> str:
    """What ``{{ value }}`` showed for ``round(value, 2)``."""
    return str(round(value, 2))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.1f}"


# --- Spending this month, for the limits ------------------------------------------------


@dataclass
class Spending:
    """Credits spent since a moment per API key and per member (a key's calls count for
    the member who created it, as ledger.member_spending() says)."""

    by_key: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    by_member: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    def add(self, *, api_key: int | None, user: int | None, creator: int | None, credits):
        if api_key is not None:
            self.by_key[api_key] += credits
        member = user if user is not None else creator
        if member is not None:
            self.by_member[member] += credits


def _hold_horizon():
    """How long a hold can stay open: the sweeper settles a job nobody picked up after the
    queue timeout and a running one once its lease (the time limit plus a margin) ran out."""
    return timedelta(
        seconds=2 * (settings.PIXDASH_JOB_QUEUE_TIMEOUT + settings.PIXDASH_JOB_TIME_LIMIT)
    )


def spending_since(
    team: Team, groups: list[dict], *, since, member: User | None = None
) -> Spending:
    """What the limits count since ``since`` (a month start): settled charges from
    ``totals(..., month_from=<since's day>)`` plus holds still open, as
    ledger.check_key_limit() and check_member_limit() count them. Open holds are found
    among the last few hours' holds only (one query), since older ones have been settled
    by the worker or the sweeper. Rollup days are TIME_ZONE days, the month is UTC: they
    agree when TIME_ZONE is UTC (the default)."""
    spent = Spending()
    for g in groups:
        if g["month_credits"] is not None:
            spent.add(
                api_key=g["api_key"],
                user=g["user"],
                creator=g["api_key__created_by"],
                credits=g["month_credits"],
            )
    account = CreditAccount.objects.filter(team=team).values("pk")[:1]
    settled = LedgerEntry.objects.filter(reference=OuterRef("reference"), kind=EntryKind.RELEASE)
    holds = LedgerEntry.objects.filter(
        account_id=Subquery(account),
        kind=EntryKind.HOLD,
        created_at__gte=max(since, timezone.now() - _hold_horizon()),
    ).filter(~Exists(settled))
    if member is not None:
        holds = holds.filter(ledger.member_spending(member))
    for row in (
        holds.values("api_key", "user", "api_key__created_by")
        .annotate(held=Sum("amount"))
        .order_by()
    ):
        spent.add(
            api_key=row["api_key"],
            user=row["user"],
            creator=row["api_key__created_by"],
            credits=-(row["held"] or ZERO),
        )
    return spent


# --- Forecast ---------------------------------------------------------------------------


@dataclass
class Forecast:
    daily_rate: Decimal
    days_left: int | None  # None: nothing spent lately, no forecast


def forecast(team: Team, *, balance: Decimal) -> Forecast:
    """At the last 7 days' spend rate, how many days the balance lasts."""
    start, end = days_back(7)
    spent = scope(team).filter(day__gte=start, day__lte=end).aggregate(c=Sum("credits"))["c"]
    return forecast_from(spent_last_7_days=spent or ZERO, balance=balance)


def forecast_from(*, spent_last_7_days: Decimal, balance: Decimal) -> Forecast:
    rate = (spent_last_7_days / 7).quantize(Decimal("0.01"))
    if rate <= 0:
        return Forecast(daily_rate=ZERO, days_left=None)
    return Forecast(daily_rate=rate, days_left=int(balance / rate))


# --- CSV ----------------------------------------------------------------------------------


def safe_cell(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; key and model names are
    typed by users, so such cells get a leading apostrophe."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def usage_csv(rows: QuerySet[UsageDaily], *, start: date, end: date) -> Iterator[str]:
    """Day × model × key × member × end user, streamed."""
    writer = csv.writer(_Echo())
    yield writer.writerow(
        [
            "day",
            "model",
            "api_key",
            "api_key_prefix",
            "member",
            "end_user",
            "generations",
            "images",
            "credits",
        ]
    )
    period = (
        rows.filter(day__gte=start, day__lte=end)
        .select_related("api_key", "user")
        .order_by("day", "model", "api_key_id", "user_id", "end_user")
    )
    for row in period.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                row.day.isoformat(),
                safe_cell(row.model),
                safe_cell(row.api_key.name) if row.api_key else "",
                row.api_key.prefix if row.api_key else "",
                safe_cell(row.user.email) if row.user else "",
                safe_cell(row.end_user),
                row.generations,
                row.images,
                f"{row.credits:.2f}",
            ]
        )


# --- The usage API ------------------------------------------------------------------------

# group_by names of GET /v1/usage → UsageDaily columns.
DIMENSIONS = {"day": "day", "model": "model", "key": "api_key", "user": "end_user"}


@dataclass(frozen=True)
class Bucket:
    day: date | None
    model: str | None
    api_key: ApiKey | None
    end_user: str | None
    generations: int
    images: int
    credits: Decimal


def buckets(
    rows: QuerySet[UsageDaily], *, start: date, end: date, group_by: list[str]
) -> list[Bucket]:
    """The rollup summed by ``group_by`` (names of DIMENSIONS), in that order: the same
    rows the page's tables and the CSV add up. An empty ``group_by`` is one total."""
    columns = [DIMENSIONS[name] for name in group_by]
    grouped = (
        rows.filter(day__gte=start, day__lte=end)
        .values(*columns)
        .annotate(g=Sum("generations"), i=Sum("images"), c=Sum("credits"))
        .order_by(*columns)
    )
    found = list(grouped)
    key_ids = {values["api_key"] for values in found if values.get("api_key")}
    keys = {key.pk: key for key in ApiKey.objects.filter(pk__in=key_ids)}
    return [
        Bucket(
            day=values.get("day"),
            model=values.get("model"),
            api_key=keys.get(values.get("api_key")),
            end_user=values.get("end_user") or None,
            generations=values["g"] or 0,
            images=values["i"] or 0,
            credits=values["c"] or ZERO,
        )
        for values in found
        if values["g"]  # an empty period sums to one row of NULLs
    ]
