"""Asking the providers for a claimed job's images: n calls at once (bounded), each image
succeeding or failing on its own, then the opt-in fallback models if the job's provider
could serve nobody."""

import asyncio
import logging
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from django.conf import settings

from generator.jobs.planning import Target
from generator.jobs.state import Claim
from generator.models import Generation, InputImage, ProviderCall
from generator.providers import registry
from generator.providers.base import ErrorCode, ImageRequest, ProviderError, ProviderImage
from generator.providers.base import InputImage as ProviderInput
from pixdash.core import metrics

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    index: int
    image: ProviderImage | None = None
    error: ProviderError | None = None
    latency_ms: int | None = None  # None: no upstream call was made


def build_requests(generation: Generation) -> list[ImageRequest]:
    """The job's requests, with its input images read back from storage."""
    inputs = list(generation.inputs.all())
    references = tuple(_provider_input(i) for i in inputs if i.role == InputImage.Role.IMAGE)
    masks = [_provider_input(i) for i in inputs if i.role == InputImage.Role.MASK]
    return _requests(generation, references, masks[0] if masks else None)


def build_requests_from(generation: Generation, images: tuple, mask) -> list[ImageRequest]:
    """The job's requests from the uploads still in memory (a job run where it was
    submitted), without reading them back."""
    references = tuple(_uploaded(image) for image in images)
    return _requests(generation, references, _uploaded(mask) if mask else None)


def _uploaded(upload) -> ProviderInput:
    return ProviderInput(
        data=upload.data, mime_type="image/png", width=upload.width, height=upload.height
    )


def _requests(generation: Generation, references: tuple, mask) -> list[ImageRequest]:
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
            mask=mask,
        )
        for index in range(generation.n)
    ]


def _provider_input(stored: InputImage) -> ProviderInput:
    with stored.file.open("rb") as handle:
        data = handle.read()
    return ProviderInput(data=data, mime_type="image/png", width=stored.width, height=stored.height)


# Failures that say "this provider cannot serve anyone right now", not "this request".
_FALL_BACK_ON = frozenset({ErrorCode.UPSTREAM_UNAVAILABLE, ErrorCode.MISCONFIGURED})

Progress = Callable[[int], Awaitable[None]]
CancelCheck = Callable[[], Awaitable[bool]]

# How often a running job looks for a cancel request: a cheap indexed read.
CANCEL_POLL_SECONDS = 1.0
CANCELED = ProviderError("Canceled before this image was delivered.", code="canceled")
OUT_OF_TIME = ProviderError(
    "The job ran out of time before this image was delivered.", code="timeout"
)


async def render(
    claimed: Claim, on_progress: Progress | None, *, canceled: CancelCheck | None = None
) -> list[Outcome]:
    """Render with the job's model; if every image failed because its provider is down or
    misconfigured, try the opt-in fallback models in order. claimed.used names the model
    whose outcomes are returned. With ``canceled``, a cancel request stops the images
    still being made (claimed.canceled is then set)."""
    for position, target in enumerate(claimed.targets):
        claimed.used = target
        outcomes = await _render_with(claimed, target, on_progress, canceled)
        last = position + 1 == len(claimed.targets) or claimed.seconds_left() <= 0
        if claimed.canceled:
            return outcomes
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
    claimed: Claim, target: Target, on_progress: Progress | None, canceled: CancelCheck | None
) -> list[Outcome]:
    """Ask the provider for every image at once, at most PIXDASH_IMAGE_CONCURRENCY in
    flight; each image succeeds or fails on its own. Whatever is not done by the job's
    deadline is stopped (each image's upstream calls are also cut to what remains)."""
    retarget = (
        {}
        if target is claimed.targets[0]
        else {
            "upstream_model": target.upstream_model,
            "width": target.width,
            "height": target.height,
            "aspect_ratio": target.aspect_ratio,
        }
    )
    requests = [
        replace(request, deadline=claimed.deadline, **retarget) for request in claimed.requests
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

    images = [asyncio.create_task(one(request)) for request in requests]
    watcher = asyncio.create_task(_watch(claimed, canceled, images)) if canceled else None
    try:
        _done, late = await asyncio.wait(images, timeout=max(0.0, claimed.seconds_left()))
        for image in late:
            image.cancel()
        results = await asyncio.gather(*images, return_exceptions=True)
    finally:
        if watcher is not None:
            watcher.cancel()
        # The provider's HTTP client belongs to this event loop (see providers/http.py).
        aclose = getattr(provider, "aclose", None)
        if aclose is not None:
            await aclose()
    outcomes = [
        _outcome(result, claimed, request)
        for result, request in zip(results, requests, strict=True)
    ]
    claimed.calls.extend(_call_record(target, o) for o in outcomes if o.latency_ms is not None)
    return outcomes


def _outcome(result: Outcome | BaseException, claimed: Claim, request: ImageRequest) -> Outcome:
    if isinstance(result, Outcome):
        return result
    if isinstance(result, asyncio.CancelledError):  # a cancel request, or the deadline
        return Outcome(request.index, error=CANCELED if claimed.canceled else OUT_OF_TIME)
    raise result


async def _watch(claimed: Claim, canceled: CancelCheck, images: list[asyncio.Task]) -> None:
    """Poll for a cancel request while images are being made; on one, stop them all."""
    while not all(image.done() for image in images):
        await asyncio.sleep(CANCEL_POLL_SECONDS)
        if await canceled():
            claimed.canceled = True
            for image in images:
                image.cancel()
            return


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


def _call_record(target: Target, outcome: Outcome) -> ProviderCall:
    metrics.record_upstream_call(
        provider=target.provider,
        model=target.upstream_model,
        ok=outcome.image is not None,
        seconds=outcome.latency_ms / 1000,
    )
    return ProviderCall(
        provider=target.provider,
        model=target.upstream_model[:200],
        ok=outcome.image is not None,
        error_code="" if outcome.image is not None else (outcome.error.code or "")[:40],
        latency_ms=outcome.latency_ms,
    )


def worth_retrying(claimed: Claim, outcomes: list[Outcome]) -> bool:
    generation = claimed.generation
    if claimed.canceled or any(outcome.image for outcome in outcomes):
        return False
    if generation.attempts >= settings.PIXDASH_JOB_MAX_ATTEMPTS:
        return False
    return all(outcome.error and outcome.error.retryable for outcome in outcomes)


def backoff(attempt: int) -> float:
    # Full jitter, capped well under the broker's visibility timeout so a retry waiting
    # in a worker is not redelivered to another one.
    return random.uniform(0, min(60.0, 2.0**attempt))
