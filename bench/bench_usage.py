"""Usage queries over 1,000,000 ledger rows: raw ledger aggregation vs the UsageDaily rollup.

    .venv/bin/python bench/bench_usage.py                      # SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pixdash_h5 .venv/bin/python bench/bench_usage.py

Creates (once per database) a team with 500,000 settled generations over 90 days
(a HOLD and a RELEASE each: 1M ledger rows) across 4 models, 5 API keys and 8 members,
and the UsageDaily rollup ledger.settle() would have written for them. Then times what
the usage page asks, both ways, and a deep keyset page of the ledger.
"""

import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PIXDASH_DEBUG", "1")
os.environ.setdefault("PIXDASH_DATA_DIR", tempfile.mkdtemp(prefix="pixdash-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pixdash.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.db.models.functions import TruncDate  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing import ledger, usage  # noqa: E402
from billing.models import CreditAccount, EntryKind, LedgerEntry, UsageDaily  # noqa: E402
from pixdash.accounts.models import ApiKey, Membership, Team, User  # noqa: E402

GENERATIONS = 500_000
MODELS = [
    ("gemini-2.5-flash-image", 2),
    ("gemini-3.1-flash-image-preview", 4),
    ("gemini-3-pro-image-preview", 8),
    ("local-preview", 1),
]


def populate() -> Team:
    team, created = Team.objects.get_or_create(name="bench-usage", slug="bench-usage")
    if LedgerEntry.objects.filter(account__team=team).count() >= 2 * GENERATIONS:
        return team
    users = []
    for i in range(8):
        user, _ = User.objects.get_or_create(email=f"bench{i}@usage.test")
        Membership.objects.get_or_create(team=team, user=user)
        users.append(user)
    keys = [
        ApiKey.objects.get_or_create(
            team=team, prefix=f"pd_bench_{i}", defaults={"name": f"key {i}", "digest": "0" * 64}
        )[0]
        for i in range(5)
    ]
    account, _ = CreditAccount.objects.get_or_create(team=team)
    rng = random.Random(5)
    now = timezone.now()
    buckets = defaultdict(lambda: [0, 0, Decimal(0)])
    batch = []
    for g in range(GENERATIONS):
        model, price = rng.choice(MODELS)
        n = rng.randint(1, 4)
        delivered = n if rng.random() > 0.05 else rng.randint(0, n - 1)
        created = now - timedelta(seconds=rng.randint(0, 90 * 86400))
        via_key = rng.random() < 0.5
        key = rng.choice(keys) if via_key else None
        user = None if via_key else rng.choice(users)
        reference = f"bench{g:021d}"
        held, charged = Decimal(n * price), Decimal(delivered * price)
        batch.append(
            LedgerEntry(
                account=account,
                kind=EntryKind.HOLD,
                amount=-held,
                reference=reference,
                model=model,
                images=n,
                api_key=key,
                user=user,
                created_at=created,
            )
        )
        batch.append(
            LedgerEntry(
                account=account,
                kind=EntryKind.RELEASE,
                amount=held - charged,
                reference=reference,
                model=model,
                images=delivered,
                api_key=key,
                user=user,
                created_at=created + timedelta(seconds=3),
            )
        )
        if charged or delivered:
            bucket = buckets[(timezone.localdate(created), model, key and key.pk, user and user.pk)]
            bucket[0] += 1
            bucket[1] += delivered
            bucket[2] += charged
        if len(batch) >= 20_000:
            LedgerEntry.objects.bulk_create(batch, batch_size=5000)
            batch = []
            print(f"  {2 * (g + 1):,} ledger rows", end="\r", flush=True)
    LedgerEntry.objects.bulk_create(batch, batch_size=5000)
    UsageDaily.objects.filter(team=team).delete()
    UsageDaily.objects.bulk_create(
        UsageDaily(
            team=team,
            day=day,
            model=model,
            api_key_id=key,
            user_id=user,
            generations=g,
            images=i,
            credits=c,
        )
        for (day, model, key, user), (g, i, c) in buckets.items()
    )
    print()
    return team


def timed(label: str, fn, repeat: int = 7) -> float:
    fn()  # warm the cache
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    median = statistics.median(runs)
    print(f"  {label:<58} {median:9.2f} ms")
    return median


def main() -> None:
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}")
    t0 = time.perf_counter()
    team = populate()
    print(
        f"data ready in {time.perf_counter() - t0:.1f}s: "
        f"{LedgerEntry.objects.filter(account__team=team).count():,} ledger rows, "
        f"{UsageDaily.objects.filter(team=team).count():,} rollup rows"
    )
    start, end = usage.days_back(30)
    since = timezone.now() - timedelta(days=30)

    def raw_by_model_and_day():
        # What the page would ask without the rollup: settled charges per day and model.
        return list(
            LedgerEntry.objects.filter(
                account__team=team,
                created_at__gte=since,
                kind__in=[EntryKind.HOLD, EntryKind.RELEASE],
            )
            .annotate(day=TruncDate("created_at"))
            .values("day", "model")
            .annotate(credits=Sum("amount"), images=Sum("images"))
        )

    def raw_by_key():
        return list(
            LedgerEntry.objects.filter(
                account__team=team,
                created_at__gte=since,
                kind__in=[EntryKind.HOLD, EntryKind.RELEASE],
            )
            .values("api_key")
            .annotate(credits=Sum("amount"))
        )

    rows = usage.scope(team)
    print("30 days, whole team:")
    raw = timed("raw ledger: per day × model", raw_by_model_and_day)
    timed("raw ledger: per API key", raw_by_key)
    chart = timed(
        "rollup: chart (per day × model)", lambda: usage.chart(rows, start=start, end=end)
    )
    report = timed(
        "rollup: tables by model, key, member + totals",
        lambda: usage.report(rows, start=start, end=end),
    )
    timed("rollup: 7-day forecast", lambda: usage.forecast(team, balance=Decimal(1000)))
    start90, _ = usage.days_back(90)
    timed("rollup: 90-day chart", lambda: usage.chart(rows, start=start90, end=end))
    member = User.objects.get(email="bench3@usage.test")
    timed(
        "rollup: one member's tables (member view)",
        lambda: usage.report(usage.scope(team, member=member), start=start, end=end),
    )
    timed("ledger: credits on hold", lambda: ledger.credits_on_hold(team))
    print(f"rollup page total ≈ {chart + report:.2f} ms vs raw per-day query {raw:.2f} ms")


if __name__ == "__main__":
    main()
