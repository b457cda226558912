"""Telling webhooks that a job finished. Called where the pipeline finishes a job (state.py:
finish and fail), with ``announce`` read from the job row already in hand: a job that
nobody listens to (no callback_url, a team without webhook endpoints) costs nothing here,
neither a query nor a hop. Otherwise a Celery task is queued after the commit that
finished the job, and the event is built and delivered off the request's path."""

import logging
from functools import partial

from django.db import transaction

logger = logging.getLogger(__name__)


def finished(generation_id: int, *, announce: bool) -> None:
    if announce:
        transaction.on_commit(partial(_queue, generation_id))


def _queue(generation_id: int) -> None:
    # webhooks builds on generator (it serializes tasks), so it is imported late.
    from webhooks.tasks import announce_task

    try:
        announce_task.apply_async(args=[generation_id], retry=False)
    except Exception:
        logger.exception("could not queue the webhook announcement of generation %s", generation_id)
