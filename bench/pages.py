"""(f) The signed-in dashboard pages with 100,000 images and 1,000,000 ledger entries:
SQL statements per page and page p50 / p95 through the production server.

Two halves. ``python -m bench.pages prepare`` runs inside Pixdash's settings: it fills one
team (COPY for the big tables, so it takes seconds, not minutes), signs an owner and a
member in, counts each page's statements with Django's test client against the same
database, and prints the pages, their statement counts and the session cookies as JSON.
``run()`` (the harness side) then times each page over HTTP against the running server.

The older selector benches (bench_gallery.py, bench_usage.py) time the same queries
without the page around them.
"""

import contextlib
import json
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

IMAGES, PER_JOB = 100_000, 10
GENERATIONS = 500_000  # a HOLD and a RELEASE each: 1M ledger entries
MODELS = [
    ("gemini-2.5-flash-image", 2),
    ("gemini-3.1-flash-image-preview", 4),
    ("gemini-3-pro-image-preview", 8),
    ("gpt-image-1.5", 1),
]


# --- The Django half ---------------------------------------------------------------------------


def _copy(model, columns: list[str], rows) -> int:
    """COPY ``rows`` (tuples in ``columns`` order) into ``model``'s table; every other
    column gets its field's default, so a new column with a default needs no change here."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    given = set(columns)
    template = model()
    defaults = [
        f.get_db_prep_save(getattr(template, f.attname), connection)
        for f in fields
        if f.attname not in given
    ]
    names = [*columns, *(f.column for f in fields if f.attname not in given)]
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in names)
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row((*row, *defaults))
            count += 1
    return count


def populate() -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from billing import ledger
    from billing.models import CreditAccount, LedgerEntry, UsageDaily
    from generator.models import Generation, ImageModel, OutputImage, Source, Status
    from pixdash.accounts.keys import create_api_key
    from pixdash.accounts.models import Membership, Role
    from pixdash.accounts.teams import create_team
    from pixdash.core.ids import new_ulid

    User = get_user_model()
    rng = random.Random(9)
    owner = User.objects.create_user(email="owner@pages.bench", password="x", name="Owner")
    team = create_team(owner=owner, name="Pages")
    members = [owner]
    for i in range(8):
        user = User.objects.create_user(email=f"m{i}@pages.bench", password="x", name=f"M{i}")
        Membership.objects.create(team=team, user=user, role=Role.MEMBER)
        members.append(user)
    keys = [
        create_api_key(team=team, created_by=members[i % 3], name=f"key {i}")[0] for i in range(5)
    ]
    ledger.credit(team=team, amount=Decimal(1_000_000), reason="bench")
    models = {
        m.public_id: m for m in ImageModel.objects.filter(public_id__in=[m for m, _ in MODELS])
    }
    now = timezone.now()
    start = now - timedelta(days=90)

    # 10,000 jobs of 10 images: the gallery.
    jobs = []
    for i in range(IMAGES // PER_JOB):
        model = models[MODELS[i % len(MODELS)][0]]
        via_key = i % 3 == 0
        jobs.append(
            Generation(
                public_id=new_ulid(),
                team=team,
                user=None if via_key else members[i % len(members)],
                api_key=keys[i % len(keys)] if via_key else None,
                source=Source.API if via_key else Source.UI,
                image_model=model,
                requested_model=model.public_id,
                provider=model.provider,
                upstream_model=model.upstream_model,
                prompt=f"bench prompt {i} lighthouse",
                n=PER_JOB,
                aspect_ratio="1:1",
                width=1024,
                height=1024,
                status=Status.COMPLETED,
                unit_price=2,
                credits_held=20,
                credits_charged=20,
                images_delivered=PER_JOB,
                created_at=start + timedelta(seconds=i * 777),
            )
        )
    Generation.objects.bulk_create(jobs, batch_size=2000)
    # A list first: the connection cannot run a query while it is in a COPY.
    job_rows = list(
        Generation.objects.filter(team=team).values_list("pk", "public_id", "created_at")
    )
    _copy(
        OutputImage,
        ["generation_id", "team_id", "index", "file", "thumbnail", "mime_type", "width"]
        + ["height", "bytes", "sha256", "created_at", "favourite"],
        (
            (pk, team.pk, index, f"outputs/x/{public_id}-{index}.png")
            + (f"thumbs/x/{public_id}-{index}.webp", "image/png", 1024, 1024, 1000, "0" * 64)
            + (created + timedelta(seconds=1), index == 0)
            for pk, public_id, created in job_rows
            for index in range(PER_JOB)
        ),
    )

    # 500,000 settled generations' HOLD and RELEASE entries over 90 days, and their rollup.
    account = CreditAccount.objects.get(team=team)
    buckets: dict = {}

    def entries():
        for g in range(GENERATIONS):
            model, price = MODELS[rng.randrange(len(MODELS))]
            n = rng.randint(1, 4)
            delivered = n if rng.random() > 0.05 else rng.randint(0, n - 1)
            created = now - timedelta(seconds=rng.randint(60, 90 * 86400))
            via_key = rng.random() < 0.5
            key = keys[rng.randrange(len(keys))].pk if via_key else None
            user = None if via_key else members[rng.randrange(len(members))].pk
            reference = f"bench{g:021d}"
            held, charged = Decimal(n * price), Decimal(delivered * price)
            yield (account.pk, "hold", -held, reference, model, n, key, user, created)
            yield (account.pk, "release", held - charged, reference, model, delivered, key, user,
                   created + timedelta(seconds=3))  # fmt: skip
            bucket = buckets.setdefault((timezone.localdate(created), model, key, user), [0, 0, 0])
            bucket[0] += 1
            bucket[1] += delivered
            bucket[2] += charged

    _copy(
        LedgerEntry,
        ["account_id", "kind", "amount", "reference", "model", "images", "api_key_id"]
        + ["user_id", "created_at"],
        entries(),
    )
    UsageDaily.objects.bulk_create(
        (
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
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"team": team, "owner": owner, "member": members[1], "keys": keys}


def pages(world: dict) -> dict[str, str]:
    from django.urls import reverse

    from billing.models import LedgerEntry
    from generator import gallery
    from generator.models import OutputImage

    team = world["team"]
    slug = team.slug
    deep_image = gallery.visible(team).values_list("pk", flat=True)[IMAGES - gallery.PAGE_SIZE - 1]
    some_image = (
        OutputImage.objects.filter(team=team)
        .order_by("-pk")
        .values_list("pk", flat=True)[IMAGES // 2]
    )
    deep_entry = (
        LedgerEntry.objects.filter(account__team=team)
        .order_by("-created_at", "-id")
        .values_list("created_at", "pk")[2 * GENERATIONS - 60]
    )
    cursor = f"{int(deep_entry[0].timestamp() * 1_000_000)}.{deep_entry[1]}"
    reference = LedgerEntry.objects.filter(account__team=team).values_list("reference", flat=True)[
        GENERATIONS
    ]
    return {
        "generator": reverse("generate", args=[slug]),
        "gallery": reverse("gallery", args=[slug]),
        "gallery, 99,950 deep": f"{reverse('gallery', args=[slug])}?after={deep_image}",
        "gallery, prompt search": f"{reverse('gallery', args=[slug])}?q=lighthouse+99",
        "image detail": reverse("image_detail", args=[slug, some_image]),
        "models": reverse("models", args=[slug]),
        "billing": reverse("billing", args=[slug]),
        "billing, last ledger page": f"{reverse('billing', args=[slug])}?after={cursor}",
        "receipt": reverse("billing_receipt", args=[slug, reference]),
        "usage, 30 days": reverse("billing_usage", args=[slug]),
        "usage, 90 days": f"{reverse('billing_usage', args=[slug])}?days=90",
        "keys": reverse("keys", args=[slug]),
        "team": reverse("team", args=[slug]),
        **_optional(slug, {"activity": "activity", "webhooks": "webhooks"}),
    }


def _optional(slug: str, names: dict[str, str]) -> dict[str, str]:
    """Pages that may not exist yet (or any more) in this version of Pixdash."""
    from django.urls import NoReverseMatch, reverse

    found = {}
    for label, name in names.items():
        with contextlib.suppress(NoReverseMatch):
            found[label] = reverse(name, args=[slug])
    return found


MEMBER_PAGES = ("billing", "usage, 30 days", "gallery")


def prepare() -> dict:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    began = time.perf_counter()
    world = populate()
    populated = time.perf_counter() - began
    urls = pages(world)
    found: dict = {"populate_s": round(populated, 1), "pages": {}, "cookies": {}}
    for who, user in (("owner", world["owner"]), ("member", world["member"])):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        found["cookies"][who] = client.cookies["sessionid"].value
        for name, url in urls.items():
            if who == "member" and name not in MEMBER_PAGES:
                continue
            label = name if who == "owner" else f"{name} (member)"
            client.get(url)  # a first view may create what later views only read
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url)
            sql = [q["sql"] for q in captured.captured_queries]
            found["pages"][label] = {
                "url": url,
                "who": who,
                "status": response.status_code,
                "statements": len(sql),
                "savepoints": sum(
                    s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")) for s in sql
                ),
                "sql": sql,
            }
    return found


# --- The harness half ----------------------------------------------------------------------------


async def _time_pages(base: str, prepared: dict, repeat: int) -> dict:
    import aiohttp

    results = {}
    async with aiohttp.ClientSession() as http:
        for label, page in prepared["pages"].items():
            cookie = {"Cookie": f"sessionid={prepared['cookies'][page['who']]}"}
            samples, statuses = [], set()
            for i in range(repeat + 1):
                began = time.perf_counter()
                async with http.get(base + page["url"], headers=cookie, allow_redirects=False) as r:
                    await r.read()
                    statuses.add(r.status)
                if i:  # the first request warms the server's caches
                    samples.append((time.perf_counter() - began) * 1000)
            samples.sort()
            results[label] = {
                "statements": page["statements"],
                "savepoints": page["savepoints"],
                "status": sorted(statuses),
                "p50_ms": round(samples[len(samples) // 2], 1),
                "p95_ms": round(samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)], 1),
                "url": page["url"],
            }
    return results


def run(pixdash, web, *, quick: bool) -> dict:
    import asyncio

    from bench.stack import ROOT

    prepared = subprocess.run(
        [sys.executable, "-m", "bench.pages", "prepare"],
        cwd=ROOT,
        env=pixdash.env,
        capture_output=True,
        text=True,
    )
    if prepared.returncode:
        raise RuntimeError(f"preparing the pages failed:\n{prepared.stderr[-4000:]}")
    data = json.loads(prepared.stdout.strip().splitlines()[-1])
    print(f"    populated in {data['populate_s']} s", flush=True)
    timed = asyncio.run(_time_pages(web.url, data, 5 if quick else 20))
    for label, figures in timed.items():
        print(
            f"    {label:32} {figures['statements']:3} statements  p50 {figures['p50_ms']:7.1f} ms"
            f"  p95 {figures['p95_ms']:7.1f} ms  {figures['status']}",
            flush=True,
        )
    sql = {label: page["sql"] for label, page in data["pages"].items()}
    return {"populate_s": data["populate_s"], "pages": timed, "sql": sql}


if __name__ == "__main__":
    if sys.argv[1:] == ["prepare"]:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pixdash.settings")
        sys.path.insert(0, os.getcwd())
        print(json.dumps(prepare(), default=str))
    else:
        sys.exit("usage: python -m bench.pages prepare  (run by `make bench`, inside its setup)")
