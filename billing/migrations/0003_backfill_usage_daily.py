"""Fill UsageDaily from the generations settled before the rollup existed."""

from collections import defaultdict
from decimal import Decimal

from django.db import migrations
from django.utils import timezone


def backfill(apps, schema_editor):
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    UsageDaily = apps.get_model("billing", "UsageDaily")
    holds = {
        e.reference: e
        for e in LedgerEntry.objects.filter(kind="hold").select_related("account").iterator()
    }
    buckets = defaultdict(lambda: [0, 0, Decimal("0")])
    for release in LedgerEntry.objects.filter(kind="release").iterator():
        hold = holds.get(release.reference)
        if hold is None:
            continue
        charged = -(hold.amount + release.amount)
        if not charged and not release.images:
            continue
        key = (
            hold.account.team_id,
            timezone.localdate(hold.created_at),
            hold.model,
            hold.api_key_id,
            hold.user_id,
        )
        bucket = buckets[key]
        bucket[0] += 1
        bucket[1] += release.images
        bucket[2] += charged
    UsageDaily.objects.bulk_create(
        UsageDaily(
            team_id=team, day=day, model=model, api_key_id=key, user_id=user,
            generations=g, images=i, credits=c,
        )
        for (team, day, model, key, user), (g, i, c) in buckets.items()
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_usage_limits_topups_redeem")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
