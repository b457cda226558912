"""The database, not the broker, says which jobs still have to run.

A queued job's message can vanish: a Redis without persistence restarts empty, a broker
failover loses its tail. Beat calls redispatch() every few seconds; it sends the task
again for every queued job still ``submitted`` some time after it was last sent. That is
safe because running a job starts with a conditional claim (state.claim): a second copy
of the message finds the job taken or finished and does nothing.

A job that merely waits behind a long queue is sent again too, but at growing intervals
(each wait as long as the job's age, at most PIXDASH_DISPATCH_MAX_INTERVAL), so a backlog
costs a few no-op messages, not one per job and run.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from generator.models import Generation, Status

logger = logging.getLogger(__name__)

# Enough for any real backlog per run; the next run takes the rest.
_BATCH = 500


def redispatch(*, now: datetime | None = None) -> int:
    """Send again the queued jobs whose message may be lost; returns how many were sent.

    Stops at the first failed publish (the broker is still down): the next run retries.
    """
    from generator.tasks import run_generation

    now = now or timezone.now()
    grace = timedelta(seconds=settings.PIXDASH_DISPATCH_GRACE)
    candidates = (
        Generation.objects.filter(status=Status.SUBMITTED, is_async=True)
        .filter(Q(dispatched_at__lte=now - grace) | Q(dispatched_at__isnull=True))
        .filter(created_at__lte=now - grace)
        .order_by("created_at")
        .values_list("pk", "created_at", "started_at", "dispatched_at")[:_BATCH]
    )
    sent = 0
    for pk, created_at, started_at, dispatched_at in candidates:
        if not _due(now, created_at, started_at, dispatched_at):
            continue
        try:
            run_generation.apply_async(args=[pk], retry=False)
        except Exception:
            logger.warning("redispatch: the broker refused a job; retrying on the next run")
            break
        # Conditional, so a job claimed meanwhile keeps its row as the worker left it.
        Generation.objects.filter(pk=pk, status=Status.SUBMITTED).update(dispatched_at=now)
        sent += 1
    if sent:
        logger.info("redispatch: sent %d queued job(s) again", sent)
    return sent


def _due(now: datetime, created_at, started_at, dispatched_at) -> bool:
    """Whether a queued job has waited long enough since it was last sent (or last handed
    back by a run that will retry it) to be sent again."""
    last = max(t for t in (created_at, started_at, dispatched_at) if t is not None)
    # Each re-send doubles the wait: the job was as old as this when last sent.
    age_when_sent = (dispatched_at or created_at) - created_at
    wait = max(
        timedelta(seconds=settings.PIXDASH_DISPATCH_GRACE),
        min(age_when_sent, timedelta(seconds=settings.PIXDASH_DISPATCH_MAX_INTERVAL)),
    )
    return now - last >= wait
