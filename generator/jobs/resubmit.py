"""Running a finished job again from the browser, on its model or another one."""

from generator import images as imaging
from generator.jobs.errors import JobError
from generator.jobs.planning import GenerationSpec
from generator.models import Generation, InputImage, Source
from pixdash.accounts.models import User


def _reread(stored: InputImage, *, param: str) -> imaging.UploadedImage:
    if not stored.file:
        # The team's retention removed the job's uploads.
        raise JobError(
            "This job's reference images are no longer kept, so it cannot run again.",
            param=param,
        )
    with stored.file.open("rb") as handle:
        return imaging.inspect_upload(handle.read(), param=param)


def spec_of(generation: Generation, *, model: str | None = None) -> GenerationSpec:
    """The request that made ``generation``, as it was asked for: prompt, count, size,
    output options, reference images and mask; on ``model`` if given."""
    inputs = list(generation.inputs.order_by("position"))
    references = tuple(
        _reread(stored, param="image") for stored in inputs if stored.role == InputImage.Role.IMAGE
    )
    masks = [
        _reread(stored, param="mask") for stored in inputs if stored.role == InputImage.Role.MASK
    ]
    return GenerationSpec(
        model=model or generation.image_model.public_id,
        prompt=generation.prompt,
        n=generation.n,
        # The size as asked (16:9, 1024x1024, auto): another model maps it to its nearest.
        size=generation.size,
        quality=generation.quality or None,
        output_format=generation.output_format,
        background=generation.background or None,
        images=references,
        mask=masks[0] if masks else None,
    )


def resubmit(*, generation: Generation, user: User, model: str | None = None):
    """Submit ``generation``'s request again as ``user``, from the browser, keeping its
    lineage. Raises what submit() raises."""
    from generator.jobs import submit

    return submit(
        team=generation.team,
        spec=spec_of(generation, model=model),
        source=Source.UI,
        is_async=True,
        user=user,
        edited_from=generation.edited_from,
    )
