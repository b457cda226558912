"""The generation pipeline: submit, run, settle. The only writer of job state.

    submit()  validate, resolve the model, hold n × price and create the job in one
              transaction (no job without a hold, no hold without a job); enqueue it.
    run()     Celery's entry: claim the row, call the provider, deliver, settle.
    run_now() the sync API's entry: the same steps, awaited in the web process with no
              database connection held while the provider works.
    sweep()   settle jobs whose worker vanished.

State changes are conditional UPDATEs keyed on the status and on the claim token a run
took, so a duplicate delivery, a replacement worker after a crash and the sweeper can race
freely: exactly one of them finishes the job, and billing.ledger.settle() refuses a second
settlement anyway. Credits are charged only for images that were stored.
"""

import asyncio
import hashlib
import json
import logging
import random
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import timedelta
from decimal import Decimal

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from billing import ledger
from generator import catalog
from generator import images as imaging
from generator.models import (
    Generation,
    ImageModel,
    InputImage,
    OutputImage,
    ProviderCall,
    Status,
)
from generator.providers import registry
from generator.providers.base import ErrorCode, ImageRequest, ProviderError, ProviderImage
from generator.providers.base import InputImage as ProviderInput
from pixdash.accounts.models import ApiKey, Team, User
from pixdash.db import db_step
from pixdash.ids import new_ulid

logger = logging.getLogger(__name__)


# --- Errors a caller can show --------------------------------------------------------


class JobError(Exception):
    """A request the pipeline refuses; status and code follow API.md's error table."""

    status = 400
    code = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.message, self.param = message, param


class ModelNotFound(JobError):
    status, code = 404, "model_not_found"


class ModelUnavailable(JobError):
    status, code = 503, "model_unavailable"


class NotPermitted(JobError):
    status, code = 403, "permission_denied"


class IdempotencyMismatch(JobError):
    """The same Idempotency-Key came with a different request."""


class QueueUnavailable(JobError):
    status, code = 503, "queue_unavailable"


class RetryLater(Exception):
    """Every image failed for a passing reason; the task should try again after ``countdown``."""

    def __init__(self, countdown: float):
        super().__init__(f"retry in {countdown:.1f}s")
        self.countdown = countdown


# --- Submit --------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationSpec:
    """A validated request, whichever door it came in by."""

    model: str
    prompt: str
    n: int = 1
    size: str | None = None
    quality: str | None = None
    output_format: str = "png"
    response_format: str = "url"
    background: str | None = None
    end_user: str | None = None
    images: tuple[imaging.UploadedImage, ...] = ()
    mask: imaging.UploadedImage | None = None

    def fingerprint(self, kind: str) -> str:
        """A digest of everything that shapes the result, for Idempotency-Key replays."""
        shaping = asdict(self)
        shaping["images"] = [image.sha256 for image in self.images]
        shaping["mask"] = self.mask.sha256 if self.mask else None
        shaping["kind"] = kind
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Submission:
    generation: Generation
    replayed: bool  # an earlier request with the same Idempotency-Key made this job


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
    requested = _resolve_model(spec.model, api_key)
    _aspect_ratio(requested, spec.size)  # a malformed size is refused whatever serves it
    _check_images(requested, spec)
    image_model, route, unit_hold = _route(requested, spec)
    ratio = _aspect_ratio(image_model, spec.size)
    kind = "edit" if spec.images else "generate"
    fingerprint = spec.fingerprint(kind)
    try:
        with transaction.atomic():
            if idempotency_key:
                earlier = _earlier_submission(team, idempotency_key, fingerprint)
                if earlier is not None:
                    return Submission(earlier, replayed=True)
            held = unit_hold * spec.n
            _check_key_budget(api_key, held, team=team, user=user)
            generation = _create_generation(
                team=team,
                spec=spec,
                image_model=image_model,
                route=route,
                ratio=ratio,
                held=held,
                source=source,
                is_async=is_async,
                user=user,
                api_key=api_key,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                edited_from=edited_from,
            )
            ledger.hold(
                team=team,
                amount=held,
                reference=generation.public_id,
                model=image_model.public_id,
                images=spec.n,
                api_key=api_key,
                user=user,
            )
            _store_inputs(generation, spec)
    except IntegrityError:
        # Two requests with one Idempotency-Key raced; the other one created the job.
        if not idempotency_key:
            raise
        earlier = _earlier_submission(team, idempotency_key, fingerprint)
        if earlier is None:
            raise
        return Submission(earlier, replayed=True)
    if is_async:
        _enqueue(generation)
    return Submission(generation, replayed=False)


async def submit_async(**kwargs) -> Submission:
    """submit() from an async view, on a worker thread with the connection handed back."""
    return await db_step(submit, **kwargs)


def _resolve_model(name: str, api_key: ApiKey | None) -> ImageModel:
    image_model = catalog.resolve(name)
    if image_model is None:
        raise ModelNotFound(
            f"The model '{name}' does not exist. GET /v1/models lists the available ones.",
            param="model",
        )
    if api_key and api_key.allowed_models:
        allowed = {name.lower() for name in api_key.allowed_models}
        if not allowed.intersection(image_model.names):
            raise NotPermitted(f"This API key may not use {image_model.public_id}.", param="model")
    return image_model


def _route(
    requested: ImageModel, spec: GenerationSpec
) -> tuple[ImageModel, registry.Route, Decimal]:
    """The first model of the requested one's fallback chain whose provider is available,
    its route, and the per-image price to hold: the highest of the chain from that model
    on, so that a fallback at run time is covered (charged <= held) whichever model ends
    up making the images. Without fallbacks: the model, its route and its price."""
    chain = [requested] + [
        m
        for m in catalog.fallback_chain(requested)[1:]
        if _can_serve(m, images=len(spec.images), mask=spec.mask is not None)
    ]
    first_error = None
    for position, candidate in enumerate(chain):
        try:
            route = registry.route(candidate)
        except registry.ProviderUnavailable as error:
            first_error = first_error or error
            continue
        if position:
            logger.warning("%s is unavailable; falling back to %s", requested, candidate)
        return candidate, route, max(m.credits_per_image for m in chain[position:])
    raise ModelUnavailable(str(first_error), param="model")


def _can_serve(image_model: ImageModel, *, images: int, mask: bool) -> bool:
    """Whether a fallback model can take this request as it is (else it is skipped)."""
    if images:
        return image_model.supports_edit and images <= image_model.max_reference_images
    return image_model.supports_generate and not mask


def _aspect_ratio(image_model: ImageModel, size: str | None) -> str:
    try:
        return catalog.nearest_ratio(image_model, size)
    except ValueError as error:
        raise JobError(str(error), param="size") from None


def _check_images(image_model: ImageModel, spec: GenerationSpec) -> None:
    if spec.images and not image_model.supports_edit:
        raise JobError(f"{image_model.public_id} cannot edit images.", param="model")
    if not spec.images and not image_model.supports_generate:
        raise JobError(f"{image_model.public_id} only edits images; send one.", param="image")
    if len(spec.images) > image_model.max_reference_images:
        raise JobError(
            f"{image_model.public_id} takes at most {image_model.max_reference_images} "
            f"reference images; {len(spec.images)} were sent.",
            param="image",
        )
    if spec.mask and not spec.images:
        raise JobError("A mask needs an image to apply to.", param="mask")


def _earlier_submission(team: Team, key: str, fingerprint: str) -> Generation | None:
    earlier = Generation.objects.filter(team=team, idempotency_key=key).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used with a different request.",
            param="Idempotency-Key",
        )
    return earlier


def _check_key_budget(
    api_key: ApiKey | None, amount: Decimal, *, team: Team, user: User | None = None
) -> None:
    """The API key's and the member's monthly limits (billing decides; we translate)."""
    try:
        ledger.check_spending_limits(team=team, user=user, api_key=api_key, amount=amount)
    except ledger.SpendingLimitExceeded as error:
        raise NotPermitted(str(error)) from None


def _create_generation(
    *,
    team,
    spec,
    image_model,
    route,
    ratio,
    held,
    source,
    is_async,
    user,
    api_key,
    idempotency_key,
    fingerprint,
    edited_from,
) -> Generation:
    width, height = image_model.size_for(ratio)
    return Generation.objects.create(
        public_id=new_ulid(),
        team=team,
        user=user,
        api_key=api_key,
        source=source,
        is_async=is_async,
        image_model=image_model,
        requested_model=spec.model,
        provider=route.name,
        demo=route.demo,
        upstream_model=image_model.upstream_model,
        prompt=spec.prompt,
        n=spec.n,
        size=spec.size or "auto",
        aspect_ratio=ratio,
        width=width,
        height=height,
        quality=spec.quality or "",
        output_format=spec.output_format,
        response_format=spec.response_format,
        background=spec.background or "",
        end_user=spec.end_user or "",
        unit_price=image_model.credits_per_image,
        credits_held=held,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        edited_from=edited_from,
    )


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


def _enqueue(generation: Generation) -> None:
    """Queue the job; if the broker is down, fail it and give the credits back at once."""
    from generator.tasks import run_generation

    try:
        run_generation.apply_async(args=[generation.pk], retry=False)
    except Exception:
        logger.exception("could not enqueue generation %s", generation.public_id)
        _fail(
            generation.pk,
            code="queue_unavailable",
            message="The job queue is unavailable; nothing was charged. Try again shortly.",
            statuses=(Status.SUBMITTED,),
        )
        raise QueueUnavailable(
            "The job queue is unavailable right now; nothing was charged. Try again shortly."
        ) from None


# --- Run -----------------------------------------------------------------------------


@dataclass
class Outcome:
    index: int
    image: ProviderImage | None = None
    error: ProviderError | None = None
    latency_ms: int | None = None  # None: no upstream call was made


@dataclass(frozen=True)
class _Target:
    """A model that may make a job's images: the one chosen at submit, then the opt-in
    fallbacks that are available now and fit within what was held."""

    image_model: ImageModel
    provider: str
    demo: bool
    upstream_model: str
    aspect_ratio: str
    width: int
    height: int
    unit_price: Decimal

    @classmethod
    def chosen_at_submit(cls, generation: Generation) -> "_Target":
        return cls(**{name: getattr(generation, name) for name in cls.field_names()})

    @classmethod
    def field_names(cls) -> list[str]:
        """The target's fields, named as the Generation columns they are stored in."""
        return [f.name for f in fields(cls)]

    def as_generation_fields(self) -> dict:
        return {name: getattr(self, name) for name in self.field_names()}


@dataclass
class _Claim:
    generation: Generation
    token: uuid.UUID
    requests: list[ImageRequest] = field(default_factory=list)
    targets: list[_Target] = field(default_factory=list)
    used: _Target | None = None  # the target whose outcomes are delivered
    calls: list[ProviderCall] = field(default_factory=list)  # written when settling


def run(*, generation_id: int) -> None:
    """Run a queued job (Celery's entry). Raises RetryLater when a retry may succeed."""
    claimed = _claim(generation_id, queued=True)
    if claimed is None:
        return
    try:
        outcomes = async_to_sync(_render)(claimed, _progress_reporter(claimed))
        if _worth_retrying(claimed.generation, outcomes):
            _record_calls(claimed)
            raise RetryLater(backoff(claimed.generation.attempts))
        _deliver(claimed, outcomes)
    except BaseException:
        # A retry, or a crash inside the run (not a provider's failed image, e.g. storage
        # down): hand the job back so the next delivery takes over at once instead of
        # after the lease. A no-op if _deliver already finished it.
        _release_claim(claimed)
        raise


async def run_now(generation: Generation) -> Generation:
    """Run a job in the calling (async) web request. The database is touched in short
    steps on a worker thread, and no connection is held while the provider works."""
    claimed = await db_step(_claim, generation.pk, queued=False)
    if claimed is None:
        return await db_step(Generation.objects.get, pk=generation.pk)
    outcomes = await _render(claimed, None)
    return await db_step(_deliver, claimed, outcomes)


def _claim(generation_id: int, *, queued: bool) -> _Claim | None:
    """Take the job: submitted, or processing under a lease that ran out (its worker
    died). Returns None when another run holds it or it is finished. Workers take only
    queued jobs and web requests only their own, so neither can run the other's."""
    now = timezone.now()
    token = uuid.uuid4()
    lease = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(status=Status.SUBMITTED) | Q(status=Status.PROCESSING, lease_expires_at__lt=now)
    taken = Generation.objects.filter(claimable, pk=generation_id, is_async=queued).update(
        status=Status.PROCESSING,
        claim_token=token,
        lease_expires_at=now + lease,
        attempts=F("attempts") + 1,
        started_at=now,
        progress=5,
    )
    if not taken:
        return None
    generation = Generation.objects.select_related("image_model").get(pk=generation_id)
    if generation.attempts > settings.PIXDASH_JOB_MAX_ATTEMPTS:
        _fail(
            generation.pk,
            code="too_many_attempts",
            message=(
                f"The job failed {settings.PIXDASH_JOB_MAX_ATTEMPTS} times; nothing was charged."
            ),
            statuses=(Status.PROCESSING,),
            token=token,
        )
        return None
    return _Claim(
        generation=generation,
        token=token,
        requests=_build_requests(generation),
        targets=_targets(generation),
    )


def _targets(generation: Generation) -> list[_Target]:
    first = _Target.chosen_at_submit(generation)
    requested = catalog.resolve(generation.requested_model)
    if requested is None or not requested.fallback_models:
        return [first]
    chain = catalog.fallback_chain(requested)
    if generation.image_model not in chain:
        return [first]
    images = generation.inputs.filter(role=InputImage.Role.IMAGE).count()
    mask = generation.inputs.filter(role=InputImage.Role.MASK).exists()
    ceiling = generation.credits_held / generation.n
    targets = [first]
    for image_model in chain[chain.index(generation.image_model) + 1 :]:
        route = registry.real_route(image_model)
        if (
            route is None
            or image_model.credits_per_image > ceiling  # the chain got pricier since submit
            or not _can_serve(image_model, images=images, mask=mask)
        ):
            continue
        ratio = catalog.nearest_ratio(image_model, generation.size)
        width, height = image_model.size_for(ratio)
        targets.append(
            _Target(
                image_model=image_model,
                provider=route.name,
                demo=False,
                upstream_model=image_model.upstream_model,
                aspect_ratio=ratio,
                width=width,
                height=height,
                unit_price=image_model.credits_per_image,
            )
        )
    return targets


def _release_claim(claimed: _Claim) -> None:
    Generation.objects.filter(
        pk=claimed.generation.pk, status=Status.PROCESSING, claim_token=claimed.token
    ).update(status=Status.SUBMITTED, claim_token=None, lease_expires_at=None)


def _build_requests(generation: Generation) -> list[ImageRequest]:
    inputs = list(generation.inputs.all())
    references = tuple(_provider_input(i) for i in inputs if i.role == InputImage.Role.IMAGE)
    masks = [_provider_input(i) for i in inputs if i.role == InputImage.Role.MASK]
    # A seed per job, so "run again" gives new pictures while a retry of the same job
    # asks for the same ones.
    seed = zlib.crc32(generation.public_id.encode())
    return [
        ImageRequest(
            upstream_model=generation.upstream_model,
            prompt=generation.prompt,
            width=generation.width,
            height=generation.height,
            aspect_ratio=generation.aspect_ratio,
            index=index,
            seed=seed,
            quality=generation.quality or None,
            output_format=generation.output_format,
            background=generation.background or None,
            images=references,
            mask=masks[0] if masks else None,
        )
        for index in range(generation.n)
    ]


def _provider_input(stored: InputImage) -> ProviderInput:
    with stored.file.open("rb") as handle:
        data = handle.read()
    return ProviderInput(data=data, mime_type="image/png", width=stored.width, height=stored.height)


def _progress_reporter(claimed: _Claim) -> Callable[[int], Awaitable[None]]:
    total = len(claimed.requests)

    def save(done: int) -> None:
        Generation.objects.filter(
            pk=claimed.generation.pk, status=Status.PROCESSING, claim_token=claimed.token
        ).update(progress=5 + int(90 * done / total))

    async def report(done: int) -> None:
        await db_step(save, done)

    return report


# Failures that say "this provider cannot serve anyone right now", not "this request".
_FALL_BACK_ON = frozenset({ErrorCode.UPSTREAM_UNAVAILABLE, ErrorCode.MISCONFIGURED})


async def _render(
    claimed: _Claim, on_progress: Callable[[int], Awaitable[None]] | None
) -> list[Outcome]:
    """Render with the job's model; if every image failed because its provider is down or
    misconfigured, try the opt-in fallback models in order. claimed.used names the model
    whose outcomes are returned."""
    for position, target in enumerate(claimed.targets):
        claimed.used = target
        outcomes = await _render_with(claimed, target, on_progress)
        last = position + 1 == len(claimed.targets)
        if last or not all(o.error and o.error.code in _FALL_BACK_ON for o in outcomes):
            return outcomes
        logger.warning(
            "%s: every image failed on %s (%s); falling back to %s",
            claimed.generation,
            target.image_model,
            outcomes[0].error.code,
            claimed.targets[position + 1].image_model,
        )
    raise AssertionError("a claim always has a target")  # pragma: no cover


async def _render_with(
    claimed: _Claim, target: _Target, on_progress: Callable[[int], Awaitable[None]] | None
) -> list[Outcome]:
    """Ask the provider for every image at once, at most PIXDASH_IMAGE_CONCURRENCY in
    flight; each image succeeds or fails on its own."""
    requests = claimed.requests
    if target is not claimed.targets[0]:
        requests = [
            replace(
                request,
                upstream_model=target.upstream_model,
                width=target.width,
                height=target.height,
                aspect_ratio=target.aspect_ratio,
            )
            for request in requests
        ]
    try:
        provider = registry.provider_named(target.provider)
    except registry.ProviderUnavailable as error:
        failure = ProviderError(str(error), code=ErrorCode.MISCONFIGURED)
        return [Outcome(r.index, error=failure) for r in requests]
    limit = asyncio.Semaphore(settings.PIXDASH_IMAGE_CONCURRENCY)
    done = 0

    async def one(request: ImageRequest) -> Outcome:
        nonlocal done
        async with limit:
            outcome = await _render_one(provider, request)
        done += 1
        if on_progress is not None:
            await on_progress(done)
        return outcome

    try:
        outcomes = list(await asyncio.gather(*(one(request) for request in requests)))
    finally:
        # The provider's HTTP client belongs to this event loop (see providers/http.py).
        aclose = getattr(provider, "aclose", None)
        if aclose is not None:
            await aclose()
    claimed.calls.extend(_call_record(target, o) for o in outcomes if o.latency_ms is not None)
    return outcomes


async def _render_one(provider, request: ImageRequest) -> Outcome:
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        image = await provider.generate(request)
    except ProviderError as error:
        return Outcome(request.index, error=error, latency_ms=elapsed())
    except Exception as error:  # an adapter bug must fail one image, not the whole job
        logger.exception("provider %s crashed on image %s", provider.name, request.index)
        return Outcome(
            request.index,
            error=ProviderError(f"Internal error: {type(error).__name__}", code="internal_error"),
            latency_ms=elapsed(),
        )
    return Outcome(request.index, image=image, latency_ms=elapsed())


def _call_record(target: _Target, outcome: Outcome) -> ProviderCall:
    return ProviderCall(
        provider=target.provider,
        model=target.upstream_model[:200],
        ok=outcome.image is not None,
        error_code="" if outcome.image is not None else (outcome.error.code or "")[:40],
        latency_ms=outcome.latency_ms,
    )


def _record_calls(claimed: _Claim) -> None:
    """Write the run's upstream call outcomes (for the staff page), once per run."""
    calls, claimed.calls = claimed.calls, []
    ProviderCall.objects.bulk_create(calls)


def _worth_retrying(generation: Generation, outcomes: list[Outcome]) -> bool:
    if any(outcome.image for outcome in outcomes):
        return False
    if generation.attempts >= settings.PIXDASH_JOB_MAX_ATTEMPTS:
        return False
    return all(outcome.error and outcome.error.retryable for outcome in outcomes)


def backoff(attempt: int) -> float:
    # Full jitter, capped well under the broker's visibility timeout so a retry waiting
    # in a worker is not redelivered to another one.
    return random.uniform(0, min(60.0, 2.0**attempt))


# --- Deliver and settle --------------------------------------------------------------


def _deliver(claimed: _Claim, outcomes: list[Outcome]) -> Generation:
    """Store the images, then finish the job and settle its hold in one transaction."""
    generation = claimed.generation
    stored: list[OutputImage] = []
    failures: list[ProviderError] = []
    for outcome in outcomes:
        if outcome.image is None:
            failures.append(outcome.error)
            continue
        try:
            stored.append(_store_output(generation, outcome.index, outcome.image, claimed.token))
        except imaging.ImageRejected as error:
            logger.warning("provider returned an unusable image for %s: %s", generation, error)
            failures.append(
                ProviderError("The provider returned an unusable image.", code="no_image")
            )
    try:
        with transaction.atomic():
            _finish(claimed, stored, failures, outcomes)
    except _LostClaim:
        logger.warning("generation %s was finished by someone else; dropping results", generation)
        _delete_files(stored)
    return Generation.objects.get(pk=generation.pk)


class _LostClaim(Exception):
    pass


def _finish(
    claimed: _Claim, stored: list[OutputImage], failures: list, outcomes: list[Outcome]
) -> None:
    generation = claimed.generation
    used = claimed.used or claimed.targets[0]
    charged = used.unit_price * len(stored)
    code, message = _failure_summary(generation.n, len(stored), failures)
    upstream_ids = [o.image.upstream_request_id for o in outcomes if o.image] + [
        o.error.upstream_request_id for o in outcomes if o.error and o.error.upstream_request_id
    ]
    finished = Generation.objects.filter(
        pk=generation.pk, status=Status.PROCESSING, claim_token=claimed.token
    ).update(
        status=Status.COMPLETED if stored else Status.FAILED,
        progress=100,
        # The model that made the images (a fallback, perhaps); requested_model stays.
        **used.as_generation_fields(),
        images_delivered=len(stored),
        credits_charged=charged,
        error_code=code,
        error_message=message,
        upstream_request_ids=[i for i in upstream_ids if i],
        finished_at=timezone.now(),
        claim_token=None,
        lease_expires_at=None,
    )
    if not finished:
        raise _LostClaim
    OutputImage.objects.bulk_create(stored)
    _record_calls(claimed)
    settled = ledger.settle(
        reference=generation.public_id,
        charged=charged,
        images=len(stored),
        model=used.image_model.public_id,
    )
    if not settled:
        raise RuntimeError(f"{generation} was settled twice under one claim")


def _failure_summary(n: int, delivered: int, failures: list[ProviderError]) -> tuple[str, str]:
    if not failures:
        return "", ""
    rejected = [f for f in failures if f.code == ErrorCode.PROMPT_REJECTED]
    first = rejected[0] if rejected else failures[0]
    if delivered:
        return (
            first.code,
            f"{len(failures)} of {n} images failed ({first.message}); they were not charged.",
        )
    return first.code, first.message


def _store_output(
    generation: Generation, index: int, image: ProviderImage, token: uuid.UUID
) -> OutputImage:
    """Write one image and its thumbnail under names derived from the job and the claim.
    A run that lost its claim deletes what it stored (see _deliver); with names shared by
    every run it would first overwrite, then delete the files of the run that finished."""
    data, mime_type = imaging.convert_format(image.data, output_format=generation.output_format)
    mime_type, width, height = imaging.probe_output(data)
    extension = mime_type.split("/")[1].replace("jpeg", "jpg")
    stem = f"{generation.team_id}/{generation.public_id}-{index}-{token.hex[:8]}"
    file_name = _save_file(f"outputs/{stem}.{extension}", data)
    thumb_name = _save_file(f"thumbs/{stem}.webp", imaging.make_thumbnail(data))
    return OutputImage(
        generation=generation,
        team_id=generation.team_id,
        index=index,
        file=file_name,
        thumbnail=thumb_name,
        mime_type=mime_type,
        width=width,
        height=height,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _save_file(name: str, data: bytes) -> str:
    return default_storage.save(name, ContentFile(data))


def _delete_files(stored: list[OutputImage]) -> None:
    for output in stored:
        default_storage.delete(output.file.name)
        default_storage.delete(output.thumbnail.name)


def _fail(
    generation_id: int,
    *,
    code: str,
    message: str,
    statuses: tuple[str, ...],
    token: uuid.UUID | None = None,
    extra: Q | None = None,
) -> bool:
    """Fail a job in one of ``statuses`` and release its whole hold. False if it was not."""
    condition = Q(pk=generation_id, status__in=statuses)
    if token is not None:
        condition &= Q(claim_token=token)
    if extra is not None:
        condition &= extra
    with transaction.atomic():
        failed = Generation.objects.filter(condition).update(
            status=Status.FAILED,
            progress=100,
            error_code=code,
            error_message=message,
            finished_at=timezone.now(),
            claim_token=None,
            lease_expires_at=None,
        )
        if not failed:
            return False
        reference = Generation.objects.values_list("public_id", flat=True).get(pk=generation_id)
        ledger.settle(reference=reference, charged=Decimal(0), images=0)
    return True


def abandon(*, generation_id: int, message: str) -> bool:
    """Give up on a job whose task can no longer run (out of retries): fail and release."""
    return _fail(
        generation_id,
        code="internal_error",
        message=message,
        statuses=(Status.SUBMITTED, Status.PROCESSING),
    )


# --- Sweep ---------------------------------------------------------------------------


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
        swept += _fail(
            generation_id,
            code="timeout",
            message="The job did not finish in time; nothing was charged.",
            statuses=(Status.SUBMITTED, Status.PROCESSING),
            extra=abandoned | never_started,
        )
    Generation.objects.filter(
        idempotency_key__isnull=False, created_at__lt=now - timedelta(hours=24)
    ).update(idempotency_key=None)
    return swept
