"""Thin Celery tasks: take an id, call generator.jobs.

Delivery is at least once (acks_late, reject_on_worker_lost): a worker killed mid-task has
its message redelivered, and jobs.run() claims the row before doing anything, so the
redelivered copy either takes over an abandoned job or does nothing.
"""

import logging

from celery import shared_task
from django.conf import settings

from generator import jobs, retention
from generator.jobs import dispatch
from pixdash.core import metrics

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_generation(self, generation_id: int) -> None:
    try:
        jobs.run(generation_id=generation_id)
    except jobs.RetryLater as retry:
        raise self.retry(countdown=retry.countdown) from None
    except Exception as error:
        # A crash, not a provider's failed image. The claim counts attempts and fails the
        # job once PIXDASH_JOB_MAX_ATTEMPTS is spent; stop retrying a little after that.
        if self.request.retries >= settings.PIXDASH_JOB_MAX_ATTEMPTS:
            jobs.abandon(
                generation_id=generation_id, message="The job kept failing; nothing was charged."
            )
            raise
        logger.exception("generation %s crashed; retrying", generation_id)
        raise self.retry(countdown=jobs.backoff(self.request.retries + 1), exc=error) from None


@shared_task
def sweep_generations() -> int:
    swept = jobs.sweep()
    metrics.record_sweeper("timed_out", swept)
    return swept


@shared_task
def redispatch_generations() -> int:
    return dispatch.redispatch()


@shared_task
def apply_retention() -> dict:
    return retention.apply().__dict__
