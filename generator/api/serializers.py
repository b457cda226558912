"""One function per /v1 response shape, built with the pydantic models in schemas.py."""

import pybase64

from generator.api.errors import ApiError
from generator.api.schemas import (
    ErrorObject,
    ImageData,
    ImagesResponse,
    ModelCapabilities,
    ModelObject,
    TaskObject,
    Usage,
)
from generator.jobs.deliver import DeliveredImage
from generator.media import signed_url
from generator.models import Generation, ImageModel, Status
from generator.providers.base import ErrorCode
from generator.providers.registry import availability


def _usage(generation: Generation) -> Usage:
    return Usage(images=generation.images_delivered, credits=f"{generation.credits_charged:.2f}")


def generation_to_openai(
    request,
    generation: Generation,
    *,
    inline_images: bool = True,
    delivered: list[DeliveredImage] | None = None,
) -> dict:
    """The images response for a completed generation. b64_json reads the files, unless
    ``inline_images`` is off (lists give signed URLs rather than read every file) or the
    images were just ``delivered`` by this process (answered from memory, in the base64
    the provider sent when the stored file is exactly that)."""
    if delivered is None:
        # Sorted here rather than by the query, so a prefetch (task lists) is used.
        outputs = sorted(generation.outputs.all(), key=lambda output: output.index)
        delivered = [DeliveredImage(output) for output in outputs]
    data = []
    for image in delivered:
        if inline_images and generation.response_format == "b64_json":
            data.append(ImageData(b64_json=_base64(image), revised_prompt=None))
        else:
            data.append(ImageData(url=signed_url(request, image.output), revised_prompt=None))
    response = ImagesResponse(
        created=int(generation.created_at.timestamp()),
        data=data,
        id=f"gen_{generation.public_id}",
        model=generation.image_model.public_id,
        usage=_usage(generation),
        size=f"{generation.width}x{generation.height}",
        output_format=generation.output_format,
        demo=generation.demo,
    )
    return response.model_dump(mode="json", exclude_unset=True)


def _base64(image: DeliveredImage) -> str:
    if image.base64 is not None:
        return image.base64
    data = image.data
    if data is None:
        with image.output.file.open("rb") as handle:
            data = handle.read()
    return pybase64.b64encode(data).decode("ascii")


def failure(generation: Generation) -> ApiError:
    """The API error for a failed generation."""
    if generation.error_code == ErrorCode.PROMPT_REJECTED:
        return ApiError(422, "prompt_rejected", generation.error_message or "Prompt rejected.")
    if generation.status == Status.CANCELED:
        return ApiError(409, "canceled", generation.error_message or "The task was canceled.")
    if generation.error_code == ErrorCode.BAD_REQUEST:
        # The upstream refused this request as such: sending it again fails the same way.
        return ApiError(400, "upstream_bad_request", generation.error_message)
    if generation.error_code == "queue_unavailable":
        return ApiError(503, "queue_unavailable", generation.error_message)
    message = generation.error_message or "The model could not make the image."
    return ApiError(503, "model_unavailable", f"{message} Nothing was charged.")


def task_to_openai(request, generation: Generation, *, inline_images: bool = True) -> dict:
    task = TaskObject(
        id=f"task_{generation.public_id}",
        object="image.task",
        status=generation.status,
        progress=generation.progress,
        created_at=int(generation.created_at.timestamp()),
        model=generation.requested_model,
    )
    if generation.status == Status.COMPLETED or (
        generation.status == Status.CANCELED and generation.images_delivered
    ):
        task.result = ImagesResponse.model_validate(
            generation_to_openai(request, generation, inline_images=inline_images)
        )
    if generation.status == Status.FAILED:
        error = failure(generation)
        task.error = ErrorObject(
            message=error.message,
            type="invalid_request_error" if error.status < 500 else "server_error",
            param=None,
            code=error.code,
            request_id=request.request_id,
        )
    if generation.is_finished:
        task.usage = _usage(generation)
    # exclude_unset, not exclude_none: the error object keeps "param": null (all four
    # keys, docs/API.md) and the result keeps "revised_prompt": null like the sync response.
    return task.model_dump(mode="json", exclude_unset=True)


def model_to_openai(image_model: ImageModel) -> dict:
    return ModelObject(
        id=image_model.public_id,
        created=0,
        owned_by=image_model.get_provider_display(),
        display_name=image_model.display_name,
        description=image_model.description,
        aliases=image_model.aliases,
        credits_per_image=f"{image_model.credits_per_image:.2f}",
        capabilities=ModelCapabilities(
            generate=image_model.supports_generate,
            edit=image_model.supports_edit,
            max_reference_images=image_model.max_reference_images,
            aspect_ratios=image_model.sizes,
        ),
        availability=availability(image_model),
    ).model_dump(mode="json")
