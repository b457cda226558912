"""The only writer of a job's state: create, claim, progress, finish, fail, sweep.

A Generation moves submitted → processing → completed | failed. Every change is a
conditional UPDATE keyed on the status and on the claim token a run took, so a duplicate
delivery, a replacement worker after a crash and the sweeper can race freely: exactly one
of them finishes the job, and billing.ledger.settle() refuses a second settlement anyway.
"""

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from billing import ledger
from generator import retention
from generator.jobs import events
from generator.jobs.planning import GenerationSpec, Plan, Target
from generator.models import Generation, InputImage, OutputImage, ProviderCall, Status
from generator.providers.base import ImageRequest
from pixdash.accounts.models import ApiKey, Team, User
from pixdash.core import observability, rows
from pixdash.core.ids import new_ulid

logger = logging.getLogger(__name__)


def create(
    *,
    team: Team,
    spec: GenerationSpec,
    planned: Plan,
    source: str,
    is_async: bool,
    user: User | None,
    api_key: ApiKey | None,
    idempotency_key: str | None,
    edited_from: OutputImage | None,
    claim_token: uuid.UUID | None = None,
) -> Generation:
    """Insert the job and store its input images. A queued job starts submitted; a job run
    by the request that submits it (``claim_token``) starts processing, claimed by it, so
    running it needs no claim of its own."""
    image_model = planned.image_model
    width, height = image_model.size_for(planned.aspect_ratio)
    claimed = _claimed_fields(claim_token, timezone.now()) if claim_token else {}
    generation = Generation(
        **claimed,
        public_id=new_ulid(),
        team=team,
        user=user,
        api_key=api_key,
        source=source,
        is_async=is_async,
        image_model=image_model,
        requested_model=spec.model,
        provider=planned.route.name,
        demo=planned.route.demo,
        upstream_model=image_model.upstream_model,
        prompt=spec.prompt,
        n=spec.n,
        size=spec.size or "auto",
        aspect_ratio=planned.aspect_ratio,
        width=width,
        height=height,
        quality=spec.quality or "",
        output_format=spec.output_format,
        response_format=spec.response_format,
        background=spec.background or "",
        end_user=spec.end_user or "",
        callback_url=spec.callback_url or "",
        announce=bool(spec.callback_url) or team.has_webhook_endpoints,
        unit_price=image_model.credits_per_image,
        credits_held=planned.hold,
        idempotency_key=idempotency_key,
        request_fingerprint=spec.fingerprint(),
        edited_from=edited_from,
    )
    rows.insert(generation)
    _store_inputs(generation, spec)
    return generation


def _store_inputs(generation: Generation, spec: GenerationSpec) -> None:
    uploads = [(InputImage.Role.IMAGE, i, image) for i, image in enumerate(spec.images)]
    if spec.mask:
        uploads.append((InputImage.Role.MASK, 0, spec.mask))
    for role, position, upload in uploads:
        stored = InputImage(
            generation=generation,
            role=role,
            position=position,
            width=upload.width,
            height=upload.height,
            sha256=upload.sha256,
        )
        stored.file.save("input.png", ContentFile(upload.data), save=False)
        stored.save()


def _job_deadline() -> float:
    return time.monotonic() + settings.PIXDASH_JOB_TIME_LIMIT


@dataclass
class Claim:
    """A run's hold on a job: only the holder of ``token`` may finish it, and its images
    must be made by ``deadline`` (time.monotonic()), PIXDASH_JOB_TIME_LIMIT after the
    claim; the lease (CELERY_TASK_TIME_LIMIT) leaves a margin after it for delivery."""

    generation: Generation
    token: uuid.UUID
    deadline: float = field(default_factory=_job_deadline)
    requests: list[ImageRequest] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    used: Target | None = None  # the target whose outcomes are delivered
    calls: list[ProviderCall] = field(default_factory=list)  # written when finishing
    canceled: bool = False  # a cancel request stopped the run

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()


def claim(generation_id: int, *, queued: bool) -> Claim | None:
    """Take the job: submitted, or processing under a lease that ran out (its worker
    died). Returns None when another run holds it or it is finished. Workers take only
    queued jobs and web requests only their own, so neither can run the other's."""
    now = timezone.now()
    token = uuid.uuid4()
    claimable = Q(status=Status.SUBMITTED) | Q(status=Status.PROCESSING, lease_expires_at__lt=now)
    taken = Generation.objects.filter(claimable, pk=generation_id, is_async=queued).update(
        **{**_claimed_fields(token, now), "attempts": F("attempts") + 1}
    )
    if not taken:
        return None
    generation = Generation.objects.select_related("image_model").get(pk=generation_id)
    if generation.attempts > settings.PIXDASH_JOB_MAX_ATTEMPTS:
        fail(
            generation.pk,
            code="too_many_attempts",
            message=(
                f"The job failed {settings.PIXDASH_JOB_MAX_ATTEMPTS} times; nothing was charged."
            ),
            statuses=(Status.PROCESSING,),
            token=token,
        )
        return None
    return Claim(generation=generation, token=token)


def _claimed_fields(token: uuid.UUID, now) -> dict:
    lease = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    return {
        "status": Status.PROCESSING,
        "claim_token": token,
        "lease_expires_at": now + lease,
        "attempts": 1,
        "started_at": now,
        "progress": 5,
    }


def release_claim(claimed: Claim) -> None:
    """Hand the job back (a retry, or a crash mid-run) so the next delivery takes over at
    once instead of after the lease. A no-op if the run already finished it."""
    Generation.objects.filter(
        pk=claimed.generation.pk, status=Status.PROCESSING, claim_token=claimed.token
    ).update(status=Status.SUBMITTED, claim_token=None, lease_expires_at=None)


def report_progress(claimed: Claim, *, done: int) -> None:
    total = len(claimed.requests)
    Generation.objects.filter(
        pk=claimed.generation.pk, status=Status.PROCESSING, claim_token=claimed.token
    ).update(progress=5 + int(90 * done / total))


class LostClaim(Exception):
    """Someone else finished the job first (the sweeper, or a run after a lease ran out)."""


def finish(
    claimed: Claim,
    *,
    stored: list[OutputImage],
    charged: Decimal,
    error_code: str,
    error_message: str,
    upstream_request_ids: list[str],
) -> None:
    """Mark the job completed (or failed when nothing was stored) and write its images and
    call records; claimed.generation is brought up to date. Call inside the transaction
    that settles the hold; raises LostClaim."""
    used = claimed.used or claimed.targets[0]
    values = {
        # The model that made the images (a fallback, perhaps); requested_model stays.
        **used.as_generation_fields(),
        "progress": 100,
        "images_delivered": len(stored),
        "credits_charged": charged,
        "error_code": error_code,
        "error_message": error_message,
        "upstream_request_ids": upstream_request_ids,
        "finished_at": timezone.now(),
        "claim_token": None,
        "lease_expires_at": None,
    }
    status = _finish_row(claimed, values, Status.COMPLETED if stored else Status.FAILED)
    if status is None:
        raise LostClaim
    generation = claimed.generation
    for name, value in values.items():
        setattr(generation, name, value)
    generation.status = status
    rows.insert_many(stored)
    record_calls(claimed)
    events.finished(claimed.generation.pk, announce=claimed.generation.announce)


def _finish_row(claimed: Claim, values: dict, status: str) -> str | None:
    """The finishing UPDATE, conditional on the claim; returns the status it set, or None
    if the claim was lost. The status is decided in the statement itself: a cancel request
    that lands while the run delivers still makes the job canceled (its delivered images
    kept and charged). One statement with RETURNING, where the ORM would need two."""
    fields = [Generation._meta.get_field(name) for name in values]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    params = [_db_value(f, values[f.name]) for f in fields]
    token_field = Generation._meta.get_field("claim_token")
    sql = (
        f"UPDATE {Generation._meta.db_table} SET {assignments}, status = CASE WHEN "
        "cancel_requested_at IS NULL THEN %s ELSE %s END "
        "WHERE id = %s AND status = %s AND claim_token = %s RETURNING status"
    )
    params += [
        status,
        Status.CANCELED,
        claimed.generation.pk,
        Status.PROCESSING,
        token_field.get_db_prep_value(claimed.token, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _db_value(field, value):
    if field.is_relation and value is not None:
        value = value.pk
    return field.get_db_prep_save(value, connection)


def record_calls(claimed: Claim) -> None:
    """Write the run's upstream call outcomes (for the staff page), once per run."""
    calls, claimed.calls = claimed.calls, []
    rows.insert_many(calls)


def fail(
    generation_id: int,
    *,
    code: str,
    message: str,
    statuses: tuple[str, ...],
    token: uuid.UUID | None = None,
    extra: Q | None = None,
    status: str = Status.FAILED,
) -> bool:
    """End a job in one of ``statuses`` as ``status`` (failed, or canceled) with nothing
    delivered, and release its whole hold. False if it was not in one of ``statuses``."""
    condition = Q(pk=generation_id, status__in=statuses)
    if token is not None:
        condition &= Q(claim_token=token)
    if extra is not None:
        condition &= extra
    with transaction.atomic():
        failed = Generation.objects.filter(condition).update(
            status=status,
            progress=100,
            error_code=code,
            error_message=message,
            finished_at=timezone.now(),
            claim_token=None,
            lease_expires_at=None,
        )
        if not failed:
            return False
        generation = Generation.objects.only(
            "public_id", "source", "n", "announce", "image_model__public_id"
        )
        generation = generation.select_related("image_model").get(pk=generation_id)
        ledger.settle(reference=generation.public_id, charged=Decimal(0), images=0)
        events.finished(generation_id, announce=generation.announce)
    observability.generation_finished(
        generation,
        model=generation.image_model.public_id,
        images=0,
        credits=Decimal(0),
        outcome="canceled" if status == Status.CANCELED else "failed",
    )
    return True


def cancel_queued(generation_id: int) -> bool:
    """Cancel a job no run holds: canceled at once, its whole hold released."""
    return fail(
        generation_id,
        code="canceled",
        message="Canceled before it started; nothing was charged.",
        statuses=(Status.SUBMITTED,),
        status=Status.CANCELED,
    )


def request_cancel(generation_id: int) -> bool:
    """Ask the run holding a job to stop; it finishes the job as canceled. False if the job
    is not running (or a cancel was already asked for)."""
    return bool(
        Generation.objects.filter(
            pk=generation_id, status=Status.PROCESSING, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=timezone.now())
    )


def cancel_requested(claimed: Claim) -> bool:
    return Generation.objects.filter(
        pk=claimed.generation.pk, cancel_requested_at__isnull=False
    ).exists()


def abandon(*, generation_id: int, message: str) -> bool:
    """Give up on a job whose task can no longer run (out of retries): fail and release."""
    return fail(
        generation_id,
        code="internal_error",
        message=message,
        statuses=(Status.SUBMITTED, Status.PROCESSING),
    )


def sweep(*, now=None) -> int:
    """Fail and release jobs nobody will finish; forget old idempotency keys.

    - processing past its lease: the web process or worker running it died. Queued jobs
      get a grace period first, in which the broker may redeliver the task;
    - submitted but never picked up within PIXDASH_JOB_QUEUE_TIMEOUT (a lost message).
    """
    now = now or timezone.now()
    grace = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    abandoned = Q(status=Status.PROCESSING) & (
        Q(is_async=False, lease_expires_at__lt=now)
        | Q(is_async=True, lease_expires_at__lt=now - grace)
    )
    never_started = Q(
        status=Status.SUBMITTED,
        created_at__lt=now - timedelta(seconds=settings.PIXDASH_JOB_QUEUE_TIMEOUT),
    )
    swept = 0
    for generation_id in Generation.objects.filter(abandoned | never_started).values_list(
        "pk", flat=True
    ):
        swept += fail(
            generation_id,
            code="timeout",
            message="The job did not finish in time; nothing was charged.",
            statuses=(Status.SUBMITTED, Status.PROCESSING),
            extra=abandoned | never_started,
        )
    retention.prune_idempotency_keys(now=now)
    return swept
