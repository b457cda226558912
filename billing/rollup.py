"""Folding settled usage (UsageEvent rows) into the UsageDaily rollup.

ledger.settle() appends one UsageEvent per settlement, in its transaction; roll_up()
takes events out (DELETE ... RETURNING, so each is taken by exactly one run, whatever
runs concurrently) and adds them to their UsageDaily buckets in the same transaction.
It runs on beat and at the start of every usage read (billing.usage.scope), so what a
page shows always includes every settlement committed before it was asked for.
"""

from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from billing.models import UsageDaily, UsageEvent

BATCH = 5000

_BUCKET = ("team_id", "day", "model", "api_key_id", "user_id", "end_user")


def roll_up() -> int:
    """Fold every pending event into UsageDaily; returns how many were folded."""
    folded = 0
    while True:
        # No savepoint inside a caller's transaction: a page that reads usage pays one
        # statement (the DELETE) when nothing is pending.
        with transaction.atomic(savepoint=False):
            taken = _take_events(BATCH)
            for bucket, (generations, images, credits) in _sum_by_bucket(taken).items():
                _add(dict(zip(_BUCKET, bucket, strict=True)), generations, images, credits)
        folded += len(taken)
        if len(taken) < BATCH:
            return folded


def _take_events(limit: int) -> list[tuple]:
    table = UsageEvent._meta.db_table
    day = UsageEvent._meta.get_field("day")
    columns = ", ".join(_BUCKET) + ", images, credits"
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT %s) "
            f"RETURNING {columns}",
            [limit],
        )
        taken = cursor.fetchall()
    # SQLite returns the day as text and the credits as a number: read them as the ORM does.
    return [
        (team, day.to_python(when), model, key, user, end_user, images, Decimal(str(credits)))
        for team, when, model, key, user, end_user, images, credits in taken
    ]


def _sum_by_bucket(events: list[tuple]) -> dict[tuple, list]:
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    for *bucket, images, credits in events:
        total = sums[tuple(bucket)]
        total[0] += 1
        total[1] += images
        total[2] += credits
    return sums


def _add(bucket: dict, generations: int, images: int, credits: Decimal) -> None:
    """An F() increment of the bucket, or the insert that creates it. Two first roll-ups
    of a bucket racing both miss the UPDATE; the unique bucket index makes the second
    INSERT fail (on PostgreSQL it waits for the first to commit), and its retried UPDATE
    then finds the row."""
    rows = UsageDaily.objects.filter(**bucket)
    increments = {
        "generations": F("generations") + generations,
        "images": F("images") + images,
        "credits": F("credits") + credits,
    }
    if rows.update(**increments):
        return
    try:
        with transaction.atomic():
            UsageDaily.objects.create(
                **bucket, generations=generations, images=images, credits=credits
            )
    except IntegrityError:
        if not rows.update(**increments):
            raise
