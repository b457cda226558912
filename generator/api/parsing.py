"""Request bodies → jobs.GenerationSpec. Every refusal is an ApiError with the field named."""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http.multipartparser import MultiPartParserError
from pydantic import ValidationError

from generator import images, jobs
from generator.api import json_edits
from generator.api.errors import ApiError
from generator.api.schemas import FORBIDDEN_FIELDS, ImageEditRequest, ImageGenerationRequest

MAX_JSON_BYTES = 1024 * 1024
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def _content_length(request) -> int:
    try:
        return int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return 0


def _parse_json(request) -> dict:
    if _content_length(request) > MAX_JSON_BYTES:
        raise ApiError(413, "request_too_large", "The JSON body is larger than 1 MB.")
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError, RequestDataTooBig):
        raise ApiError(400, "invalid_request_error", "The body is not valid JSON.") from None
    except RecursionError:  # e.g. [[[[…]]]] 100,000 deep: json recurses per level
        raise ApiError(
            400, "invalid_request_error", "The JSON body is nested too deeply."
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request_error", "The body must be a JSON object.")
    return body


def _validate(schema, fields: dict):
    forbidden = sorted(FORBIDDEN_FIELDS.intersection(fields))
    if forbidden:
        raise ApiError(
            400,
            "invalid_request_error",
            f"'{forbidden[0]}' cannot be set by clients.",
            param=forbidden[0],
        )
    try:
        return schema.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        raise ApiError(400, "invalid_request_error", f"{param}: {message}", param=param) from None


def _spec(request_fields, uploads=(), mask=None) -> jobs.GenerationSpec:
    return jobs.GenerationSpec(
        model=request_fields.model,
        prompt=request_fields.prompt,
        n=request_fields.n,
        size=request_fields.size,
        quality=request_fields.quality,
        output_format=request_fields.output_format or "png",
        response_format=request_fields.response_format or "url",
        background=request_fields.background,
        end_user=request_fields.user,
        callback_url=request_fields.callback_url,
        images=tuple(uploads),
        mask=mask,
    )


def generation_spec(request) -> jobs.GenerationSpec:
    return _spec(_validate(ImageGenerationRequest, _parse_json(request)))


def edit_spec(request) -> jobs.GenerationSpec:
    """Parse a multipart edit. Runs on a worker thread: decoding images is CPU work."""
    if _content_length(request) > settings.PIXDASH_MAX_UPLOAD_BYTES:
        limit_mb = settings.PIXDASH_MAX_UPLOAD_BYTES // (1024 * 1024)
        raise ApiError(413, "request_too_large", f"The upload is larger than {limit_mb} MB.")
    if request.content_type == "application/json":
        return json_edits.edit_spec(request, validate=_validate, build=_spec)
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(
            400,
            "invalid_request_error",
            "Edits are sent as multipart/form-data, or as JSON with image URLs.",
        )
    try:
        form, files = request.POST, request.FILES
    except (RequestDataTooBig, TooManyFilesSent) as error:
        raise ApiError(413, "request_too_large", str(error)) from None
    except MultiPartParserError as error:
        raise ApiError(400, "invalid_request_error", f"Malformed multipart body: {error}") from None
    fields = _validate(ImageEditRequest, {key: form.get(key) for key in form})
    parts = _image_parts(files)
    if not parts:
        raise ApiError(400, "invalid_request_error", "Send at least one image.", param="image")
    uploads = [_inspect(upload, param) for param, upload in parts]
    mask = None
    if "mask" in files:
        try:
            mask = images.inspect_mask(files["mask"].read(), param="mask", image=uploads[0])
        except images.ImageRejected as error:
            raise ApiError(error.status, error.code, error.message, "mask") from None
    return _spec(fields, uploads, mask)


def _image_parts(files) -> list[tuple[str, object]]:
    """``image``, ``image[]`` (what the OpenAI SDK sends for a list) and ``image[0]``…"""
    parts = [("image", f) for f in files.getlist("image")]
    parts += [("image[]", f) for f in files.getlist("image[]")]
    # ASCII digits only: "image[²]" passes str.isdigit() but not int().
    indexed = [
        key
        for key in files
        if key.startswith("image[") and key.endswith("]") and _is_index(key[6:-1])
    ]
    for key in sorted(indexed, key=lambda k: int(k[6:-1])):
        parts += [(key, f) for f in files.getlist(key)]
    return parts


def _is_index(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _inspect(upload, param: str) -> images.UploadedImage:
    if upload.size > MAX_IMAGE_BYTES:
        raise ApiError(413, "request_too_large", f"{param} is larger than 20 MB.", param)
    try:
        return images.inspect_upload(upload.read(), param=param, max_bytes=MAX_IMAGE_BYTES)
    except images.ImageRejected as error:
        raise ApiError(error.status, error.code, error.message, param) from None


def idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255:
        raise ApiError(
            400,
            "invalid_request_error",
            "Idempotency-Key must be 1–255 characters.",
            "Idempotency-Key",
        )
    return key
