"""What is kept, and for how long. Run by beat (``apply_retention``), idempotent.

1. Each team's policy (``Team.image_retention_days``; NULL keeps everything): images
   older than that are deleted like a member would delete them, favourites excepted.
2. Deleted images whose undo window (PIXDASH_UNDO_HOURS) has passed are purged: their
   original and thumbnail are removed from storage. The row stays (``purged_at``) as the
   record of what was delivered and charged; every media URL answers 404 for it.
3. Uploaded inputs of generations past their team's retention period lose their files.
4. Upstream call records older than PIXDASH_PROVIDER_CALL_DAYS and Idempotency-Keys older
   than 24 hours are dropped.

Purging claims rows first (``purged_at`` set by a conditional UPDATE, so a restore that
races it loses: restore refuses purged images), then removes the files, then blanks the
file names. A crash in between leaves rows with ``purged_at`` and file names; the next
run finishes them (deleting a missing file is a no-op), so nothing is left behind and
nothing is deleted twice in a way that matters. Every step works in batches and logs
and counts what it did.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef
from django.utils import timezone

from generator.models import Generation, InputImage, OutputImage, ProviderCall
from pixdash.accounts.models import Team
from pixdash.core import metrics

logger = logging.getLogger(__name__)

BATCH = 500
IDEMPOTENCY_WINDOW = timedelta(hours=24)


@dataclass
class RetentionReport:
    images_expired: int = 0
    images_purged: int = 0
    files_removed: int = 0
    inputs_purged: int = 0
    provider_calls_pruned: int = 0
    idempotency_keys_pruned: int = 0


def apply(*, now: datetime | None = None) -> RetentionReport:
    """Run every retention step once; safe to run again at any time."""
    now = now or timezone.now()
    report = RetentionReport()
    report.images_expired = expire_images(now=now)
    report.images_purged, report.files_removed = purge_deleted_images(now=now)
    report.inputs_purged = purge_expired_inputs(now=now)
    report.provider_calls_pruned = prune_provider_calls(now=now)
    report.idempotency_keys_pruned = prune_idempotency_keys(now=now)
    for action, count in asdict(report).items():
        if action != "idempotency_keys_pruned":  # counted where it happens (the sweeper too)
            metrics.record_retention(action, count)
    logger.info(
        "retention: %s",
        " ".join(f"{action}={count}" for action, count in asdict(report).items()),
        extra={"event": "retention", **asdict(report)},
    )
    return report


def _teams_with_a_policy():
    return Team.objects.filter(image_retention_days__isnull=False).values_list(
        "pk", "image_retention_days"
    )


def expire_images(*, now: datetime) -> int:
    """Delete (soft, undoable) images older than their team keeps them; not favourites."""
    expired = 0
    for team_id, days in _teams_with_a_policy():
        expired += OutputImage.objects.filter(
            team_id=team_id,
            created_at__lt=now - timedelta(days=days),
            favourite=False,
            deleted_at__isnull=True,
        ).update(deleted_at=now)
    return expired


def purge_deleted_images(*, now: datetime) -> tuple[int, int]:
    """Remove the files of images deleted before the undo window; (images, files)."""
    cutoff = now - timedelta(hours=settings.PIXDASH_UNDO_HOURS)
    images = files = 0
    while True:
        batch = list(
            OutputImage.objects.filter(deleted_at__lt=cutoff, purged_at__isnull=True)
            .order_by("deleted_at")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not batch:
            break
        # The claim: only rows still deleted and unpurged now are ours to purge.
        images += OutputImage.objects.filter(
            pk__in=batch, deleted_at__lt=cutoff, purged_at__isnull=True
        ).update(purged_at=now)
    # Claimed rows (this run's, or a crashed run's) whose files are still named.
    while True:
        rows = list(
            OutputImage.objects.filter(purged_at__isnull=False)
            .exclude(file="", thumbnail="")
            .values_list("pk", "file", "thumbnail")[:BATCH]
        )
        if not rows:
            break
        for _pk, *names in rows:
            files += _remove_files(names)
        OutputImage.objects.filter(pk__in=[row[0] for row in rows]).update(file="", thumbnail="")
    return images, files


def purge_expired_inputs(*, now: datetime) -> int:
    """Remove uploaded inputs of generations older than their team keeps images, unless
    one of the generation's images is a favourite (the detail page shows its inputs)."""
    purged = 0
    favourite = OutputImage.objects.filter(generation=OuterRef("generation"), favourite=True)
    for team_id, days in _teams_with_a_policy():
        while True:
            rows = list(
                InputImage.objects.filter(
                    generation__team_id=team_id,
                    generation__created_at__lt=now - timedelta(days=days),
                )
                .exclude(file="")
                .exclude(Exists(favourite))
                .values_list("pk", "file")[:BATCH]
            )
            if not rows:
                break
            for _pk, name in rows:
                _remove_files([name])
            purged += InputImage.objects.filter(pk__in=[row[0] for row in rows]).update(file="")
    return purged


def _remove_files(names) -> int:
    removed = 0
    for name in names:
        if name:
            # Missing files are fine (a crashed run removed them already).
            default_storage.delete(name)
            removed += 1
    return removed


def prune_provider_calls(*, now: datetime) -> int:
    cutoff = now - timedelta(days=settings.PIXDASH_PROVIDER_CALL_DAYS)
    pruned = 0
    while True:
        batch = list(
            ProviderCall.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:BATCH]
        )
        if not batch:
            return pruned
        pruned += ProviderCall.objects.filter(pk__in=batch).delete()[0]


def prune_idempotency_keys(*, now: datetime) -> int:
    """Idempotency-Keys replay for 24 hours; after that the same key starts a new job.
    The sweeper calls this every minute too, so a key never lives much past its day."""
    pruned = Generation.objects.filter(
        idempotency_key__isnull=False, created_at__lt=now - IDEMPOTENCY_WINDOW
    ).update(idempotency_key=None)
    metrics.record_retention("idempotency_keys_pruned", pruned)
    return pruned
