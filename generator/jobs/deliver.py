"""Delivering a run's images: store them, then finish the job and settle its hold in one
transaction. Credits are charged only for images that were stored.

What the web process does here is on a sync request's critical path, so it stores each
image as the provider sent it when that is the format asked for (no decode, no
re-encode), checks its structure and reads its size from the header, and leaves the
thumbnail to whoever first shows it (generator/thumbnails.py). A worker, which nobody is
waiting on, makes thumbnails at once.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from billing import ledger
from generator import images as imaging
from generator.jobs import state
from generator.jobs.render import Outcome
from generator.models import Generation, OutputImage
from generator.providers.base import ErrorCode, ProviderError, ProviderImage
from pixdash.core import observability

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveredImage:
    output: OutputImage
    # The stored file in base64 when the provider sent exactly it that way, so an answer
    # asking for b64_json need not encode it again; else its bytes, when still in memory.
    base64: str | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class Delivery:
    generation: Generation
    # The images in index order, or None when they are to be read from the database.
    images: list[DeliveredImage] | None = None


def delivered(generation_id: int) -> Delivery:
    """A finished (or running) job as the database has it, for replays and polling."""
    return Delivery(Generation.objects.select_related("image_model").get(pk=generation_id))


def deliver(claimed: state.Claim, outcomes: list[Outcome], *, thumbnails: bool = False) -> Delivery:
    """Store the images, then finish the job and settle its hold in one transaction."""
    generation = claimed.generation
    stored: list[DeliveredImage] = []
    failures: list[ProviderError] = []
    for outcome in outcomes:
        if outcome.image is None:
            failures.append(outcome.error)
            continue
        try:
            stored.append(
                _store_output(generation, outcome.index, outcome.image, claimed.token, thumbnails)
            )
        except imaging.ImageRejected as error:
            logger.warning("provider returned an unusable image for %s: %s", generation, error)
            failures.append(
                ProviderError("The provider returned an unusable image.", code="no_image")
            )
    outputs = [image.output for image in stored]
    try:
        with transaction.atomic():
            model, charged = _finish_and_settle(claimed, outputs, failures, outcomes)
    except state.LostClaim:
        logger.warning("generation %s was finished by someone else; dropping results", generation)
        _delete_files(outputs)
        return delivered(generation.pk)
    observability.generation_finished(
        generation,
        model=model,
        images=len(outputs),
        credits=charged,
        outcome="canceled" if claimed.canceled else None,
    )
    return Delivery(generation, images=stored)


def _finish_and_settle(
    claimed: state.Claim, stored: list[OutputImage], failures: list, outcomes: list[Outcome]
) -> tuple[str, Decimal]:
    """Finish and settle; the public id of the model that made the images, and the charge."""
    generation = claimed.generation
    used = claimed.used or claimed.targets[0]
    charged = used.unit_price * len(stored)
    code, message = _failure_summary(generation.n, len(stored), failures)
    if claimed.canceled:
        code = "canceled"
        message = (
            f"Canceled: {len(stored)} of {generation.n} images were delivered and charged; "
            "the rest was released."
        )
    upstream_ids = [o.image.upstream_request_id for o in outcomes if o.image] + [
        o.error.upstream_request_id for o in outcomes if o.error and o.error.upstream_request_id
    ]
    state.finish(
        claimed,
        stored=stored,
        charged=charged,
        error_code=code,
        error_message=message,
        upstream_request_ids=[i for i in upstream_ids if i],
    )
    settled = ledger.settle(
        reference=generation.public_id,
        charged=charged,
        images=len(stored),
        model=used.image_model.public_id,
    )
    if not settled:
        raise RuntimeError(f"{generation} was settled twice under one claim")
    return used.image_model.public_id, charged


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
    generation: Generation,
    index: int,
    image: ProviderImage,
    token: uuid.UUID,
    thumbnail: bool,
) -> DeliveredImage:
    """Write one image (and, if asked, its thumbnail) under names derived from the job and
    the claim. A run that lost its claim deletes what it stored (see deliver); with names
    shared by every run it would first overwrite, then delete the files of the run that
    finished."""
    data, mime_type = imaging.convert_format(image.data, output_format=generation.output_format)
    converted = data is not image.data
    mime_type, width, height = imaging.probe_output(data)
    extension = mime_type.split("/")[1].replace("jpeg", "jpg")
    stem = f"{generation.team_id}/{generation.public_id}-{index}-{token.hex[:8]}"
    file_name = _save_file(f"outputs/{stem}.{extension}", data)
    thumb_name = (
        _save_file(f"thumbs/{stem}.webp", imaging.make_thumbnail(data)) if thumbnail else ""
    )
    output = OutputImage(
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
    if converted or image.base64 is None:
        return DeliveredImage(output, data=data)
    return DeliveredImage(output, base64=image.base64)


def _save_file(name: str, data: bytes) -> str:
    return default_storage.save(name, ContentFile(data))


def _delete_files(stored: list[OutputImage]) -> None:
    for output in stored:
        default_storage.delete(output.file.name)
        if output.thumbnail:
            default_storage.delete(output.thumbnail.name)
