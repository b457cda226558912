"""The generation pipeline: one path for the API and the browser.

    quote()    what a request would hold, and whether it would be accepted (planning.py)
    submit()   validate, hold n × price and create the job in one transaction (no job
               without a hold, no hold without a job); enqueue it when asynchronous
    run()      Celery's entry: claim the row, render, deliver and settle
    run_now()  the sync API's entry: the same steps awaited in the web process, with no
               database connection held while the provider works
    cancel()   cancel a queued job at once, or ask a running one to stop
    sweep()    settle jobs whose worker vanished (state.py)
    resubmit() run a finished job's request again from the browser (resubmit.py)

planning.py prices a request, state.py is the only writer of job state, render.py asks the
providers, deliver.py stores images and settles. Errors are domain errors (errors.py).
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.db import IntegrityError, transaction

from billing import ledger
from generator.jobs import admission, planning, render, state
from generator.jobs import deliver as delivery
from generator.jobs.errors import (
    AlreadyFinished,
    IdempotencyMismatch,
    JobError,
    ModelNotFound,
    ModelUnavailable,
    NotPermitted,
    QueueUnavailable,
    RetryLater,
    TooManyJobsInFlight,
)
from generator.jobs.planning import GenerationSpec, Plan, Quote, quote
from generator.jobs.render import backoff
from generator.jobs.resubmit import resubmit
from generator.jobs.state import abandon, sweep
from generator.models import Generation, OutputImage, Status
from pixdash.accounts.models import ApiKey, Team, User
from pixdash.core import db, observability
from pixdash.core.db import db_step

__all__ = [
    "AlreadyFinished",
    "GenerationSpec",
    "IdempotencyMismatch",
    "JobError",
    "ModelNotFound",
    "ModelUnavailable",
    "NotPermitted",
    "Plan",
    "QueueUnavailable",
    "Quote",
    "RetryLater",
    "TooManyJobsInFlight",
    "Submission",
    "abandon",
    "backoff",
    "cancel",
    "quote",
    "resubmit",
    "run",
    "run_now",
    "submit",
    "submit_async",
    "sweep",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    generation: Generation
    replayed: bool  # an earlier request with the same Idempotency-Key made this job
    # A job that is not queued is created claimed by the request that runs it (run_now).
    claim: state.Claim | None = None


def submit(
    *,
    team: Team,
    spec: GenerationSpec,
    source: str,
    is_async: bool,
    user: User | None = None,
    api_key: ApiKey | None = None,
    idempotency_key: str | None = None,
    edited_from: OutputImage | None = None,
) -> Submission:
    """Validate, hold credits and create the job; enqueue it when ``is_async``.

    Raises JobError subclasses or billing.ledger.InsufficientCredits; nothing is held or
    created when it raises.
    """
    planned = planning.plan(spec)
    planning.check_key_allows(api_key, planned.requested)
    planning.check_end_user(api_key, spec)
    fingerprint = spec.fingerprint()
    claim_token = None if is_async else uuid.uuid4()
    try:
        with transaction.atomic():
            if idempotency_key:
                earlier = _earlier_submission(team, idempotency_key, fingerprint)
                if earlier is not None:
                    return Submission(earlier, replayed=True)
            _check_spending_limits(api_key, planned.hold, team=team, user=user)
            generation = state.create(
                team=team,
                spec=spec,
                planned=planned,
                source=source,
                is_async=is_async,
                user=user,
                api_key=api_key,
                idempotency_key=idempotency_key,
                edited_from=edited_from,
                claim_token=claim_token,
            )
            ledger.hold(
                team=team,
                amount=planned.hold,
                reference=generation.public_id,
                model=planned.image_model.public_id,
                images=spec.n,
                api_key=api_key,
                user=user,
                end_user=spec.end_user or "",
            )
            admission.admit(team)  # after the hold: its row lock orders the count
    except IntegrityError:
        # Two requests with one Idempotency-Key raced; the other one created the job.
        if not idempotency_key:
            raise
        earlier = _earlier_submission(team, idempotency_key, fingerprint)
        if earlier is None:
            raise
        return Submission(earlier, replayed=True)
    observability.bind(generation=f"gen_{generation.public_id}")
    if is_async:
        _enqueue(generation)
        return Submission(generation, replayed=False)
    claim = state.Claim(generation=generation, token=claim_token)
    claim.requests = render.build_requests_from(generation, spec.images, spec.mask)
    claim.targets = planning.targets(generation, images=len(spec.images), mask=bool(spec.mask))
    return Submission(generation, replayed=False, claim=claim)


async def submit_async(**kwargs) -> Submission:
    """submit() from an async view, on a worker thread with the connection handed back."""
    return await db_step(submit, **kwargs)


def _earlier_submission(team: Team, key: str, fingerprint: str) -> Generation | None:
    earlier = Generation.objects.filter(team=team, idempotency_key=key).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used with a different request.",
            param="Idempotency-Key",
        )
    return earlier


def _check_spending_limits(api_key, amount, *, team: Team, user: User | None) -> None:
    """The API key's and the member's monthly limits (billing decides; we translate)."""
    try:
        ledger.check_spending_limits(team=team, user=user, api_key=api_key, amount=amount)
    except ledger.SpendingLimitExceeded as error:
        raise NotPermitted(str(error)) from None


def _enqueue(generation: Generation) -> None:
    """Queue the job; if the broker is down, fail it and give the credits back at once."""
    from generator.tasks import run_generation

    try:
        run_generation.apply_async(args=[generation.pk], retry=False)
    except Exception:
        logger.exception("could not enqueue generation %s", generation.public_id)
        state.fail(
            generation.pk,
            code="queue_unavailable",
            message="The job queue is unavailable; nothing was charged. Try again shortly.",
            statuses=(Status.SUBMITTED,),
        )
        raise QueueUnavailable(
            "The job queue is unavailable right now; nothing was charged. Try again shortly."
        ) from None


def _prepare(claimed: state.Claim) -> state.Claim:
    claimed.requests = render.build_requests(claimed.generation)
    claimed.targets = planning.targets(claimed.generation)
    return claimed


def _claim(generation_id: int, *, queued: bool) -> state.Claim | None:
    claimed = state.claim(generation_id, queued=queued)
    if claimed is None:
        return None
    observability.bind(generation=f"gen_{claimed.generation.public_id}")
    return _prepare(claimed)


def cancel(*, generation: Generation) -> Generation:
    """Cancel a job. A queued one is canceled at once and its hold released; a running one
    is asked to stop: it makes no further upstream calls, keeps and charges the images it
    already delivered, releases the rest and ends as canceled. Canceling a canceled job
    changes nothing; a completed or failed one raises AlreadyFinished."""
    # A claim (submitted → processing) or a release (processing → submitted, a retry) may
    # slip between the two conditional UPDATEs; a few rounds settle it.
    for _attempt in range(5):
        if state.cancel_queued(generation.pk) or state.request_cancel(generation.pk):
            break
        generation.refresh_from_db()
        if generation.status in (Status.COMPLETED, Status.FAILED):
            raise AlreadyFinished(f"The task already {generation.status}; nothing to cancel.")
        if generation.status == Status.CANCELED or generation.cancel_requested_at:
            break
    generation.refresh_from_db()
    return generation


def run(*, generation_id: int) -> None:
    """Run a queued job (Celery's entry). Raises RetryLater when a retry may succeed.

    Database work happens in steps that hand the worker thread's connection back, so a
    worker with many jobs waiting on upstreams holds no connections while they wait."""
    claimed = db.step(_claim, generation_id, queued=True)
    if claimed is None:
        return
    try:
        outcomes = async_to_sync(render.render)(
            claimed, _progress_reporter(claimed), canceled=_cancel_watcher(claimed)
        )
        if render.worth_retrying(claimed, outcomes):
            db.step(state.record_calls, claimed)
            raise RetryLater(backoff(claimed.generation.attempts))
        db.step(delivery.deliver, claimed, outcomes, thumbnails=True)
    except BaseException:
        # A retry, or a crash inside the run (not a provider's failed image, e.g. storage
        # down): hand the job back so the next delivery takes over at once instead of
        # after the lease. A no-op if deliver() already finished it.
        db.step(state.release_claim, claimed)
        raise


# Jobs run where they were submitted, kept from the garbage collector until they end.
_running: set[asyncio.Task] = set()


async def run_now(submission: Submission) -> delivery.Delivery:
    """Run a job that ``submit(is_async=False)`` created claimed, in the calling web
    process: render on this loop, then deliver in one short database step. No connection
    is held while the provider works.

    The job runs as a task of its own, so it finishes, stores and settles even if the
    request that started it is canceled (its client hung up): the client can fetch the
    result by replaying its Idempotency-Key.
    """
    if submission.claim is None:  # a replay: the job is someone else's to run
        return await db_step(delivery.delivered, submission.generation.pk)
    task = asyncio.create_task(_run_claimed(submission.claim))
    _running.add(task)
    task.add_done_callback(_running.discard)
    return await asyncio.shield(task)


async def _run_claimed(claimed: state.Claim) -> delivery.Delivery:
    try:
        outcomes = await render.render(claimed, None)
    except BaseException:
        await db_step(state.release_claim, claimed)
        raise
    return await db_step(delivery.deliver, claimed, outcomes)


def _cancel_watcher(claimed: state.Claim):
    async def canceled() -> bool:
        return await db_step(state.cancel_requested, claimed)

    return canceled


def _progress_reporter(claimed: state.Claim) -> render.Progress:
    async def report(done: int) -> None:
        await db_step(state.report_progress, claimed, done=done)

    return report
