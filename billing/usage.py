"""The read side of billing: usage by day, model, API key and member, from UsageDaily.

UsageDaily is kept by ledger.settle() in the settlement's transaction, so every figure
here reconciles exactly with the ledger (settled charges; unsettled holds are shown as
"on hold", not as usage). Members see their own usage, managers the team's: ``scope()``
is the one place that decides which rows a viewer may aggregate.
"""

import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from billing.models import UsageDaily
from pixdash.accounts.models import ApiKey, Team, User

ZERO = Decimal("0.00")
PERIODS = (7, 30, 90)
# Stacked bars need a colour per model; the palette cycles past eight models.
PALETTE = ("#5b3df5", "#ff6aa8", "#18a058", "#f0a020", "#2c62c9", "#9b59b6", "#14b8a6", "#e4572e")


def scope(team: Team, *, member: User | None = None) -> QuerySet[UsageDaily]:
    """The team's usage rows; with ``member``, only that member's (their browser jobs and
    calls with keys they created: see ledger.member_spending)."""
    rows = UsageDaily.objects.filter(team=team)
    if member is not None:
        rows = rows.filter(Q(user=member) | Q(user__isnull=True, api_key__created_by=member))
    return rows


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


def report(rows: QuerySet[UsageDaily], *, start: date, end: date) -> Report:
    """Tables by model, key, member and end user from ONE grouped query over the rollup,
    folded four ways here, so the tables and the total cannot disagree."""
    grouped = (
        rows.filter(day__gte=start, day__lte=end)
        .values("model", "api_key", "user", "end_user")
        .annotate(images=Sum("images"), credits=Sum("credits"), generations=Sum("generations"))
        .order_by()
    )
    by = {
        "model": defaultdict(lambda: [0, 0, ZERO]),
        "api_key": defaultdict(lambda: [0, 0, ZERO]),
        "user": defaultdict(lambda: [0, 0, ZERO]),
        "end_user": defaultdict(lambda: [0, 0, ZERO]),
    }
    total = Row(label="Total")
    for values in grouped:
        for field_name, buckets in by.items():
            bucket = buckets[values[field_name]]
            bucket[0] += values["generations"] or 0
            bucket[1] += values["images"] or 0
            bucket[2] += values["credits"] or ZERO
        total.generations += values["generations"] or 0
        total.images += values["images"] or 0
        total.credits += values["credits"] or ZERO
    keys = {k.pk: k for k in ApiKey.objects.filter(pk__in=[k for k in by["api_key"] if k])}
    users = {u.pk: u for u in User.objects.filter(pk__in=[u for u in by["user"] if u])}

    def key_label(pk):
        if pk is None:
            return "Browser", "generator page"
        return keys[pk].name, f"{keys[pk].prefix}…"

    def member_label(pk):
        if pk is None:
            return "API keys", "calls carry the key, not a member"
        return users[pk].get_full_name(), users[pk].email

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
    x: float
    y: float
    width: float
    height: float
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


def chart(rows: QuerySet[UsageDaily], *, start: date, end: date, metric: str = "credits") -> Chart:
    """Per day, one bar stacked by model, as coordinates for an inline SVG in the template
    (no JavaScript charting library: the page is readable as served)."""
    field_name = "images" if metric == "images" else "credits"
    per_day: dict[date, dict[str, float]] = defaultdict(dict)
    images: dict[tuple[date, str], int] = {}
    credits: dict[tuple[date, str], Decimal] = {}
    period = rows.filter(day__gte=start, day__lte=end)
    for values in period.values("day", "model").annotate(
        images=Sum("images"), credits=Sum("credits")
    ):
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
                    x=round(PAD_LEFT + i * slot + (slot - bar_w) / 2, 2),
                    y=round(y, 2),
                    width=round(bar_w, 2),
                    height=round(max(height, 0.5), 2),
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


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.1f}"


# --- Forecast ---------------------------------------------------------------------------


@dataclass
class Forecast:
    daily_rate: Decimal
    days_left: int | None  # None: nothing spent lately, no forecast


def forecast(team: Team, *, balance: Decimal) -> Forecast:
    """At the last 7 days' spend rate, how many days the balance lasts."""
    start, end = days_back(7)
    spent = scope(team).filter(day__gte=start, day__lte=end).aggregate(c=Sum("credits"))["c"]
    rate = ((spent or ZERO) / 7).quantize(Decimal("0.01"))
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
