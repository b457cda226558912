"""Edits sent as JSON, as some OpenAI-compatible clients do: ``images: [{"image_url": …}]``
with data URLs or https URLs, and an optional ``mask``. The images then go through the same
checks as multipart uploads (size, sniffed type, pixel count before decode, re-encoding);
URLs are fetched by pixdash.core.outbound (no private addresses, no redirects, capped)."""

import base64
import binascii
import json
import time

from django.conf import settings

from generator import images, jobs
from generator.api.errors import ApiError
from generator.api.schemas import ImageEditJsonRequest
from pixdash.core import outbound

MAX_IMAGE_BYTES = 20 * 1024 * 1024
# Base64 is 4 characters per 3 bytes; anything longer decodes to more than the cap.
_MAX_BASE64_CHARS = (MAX_IMAGE_BYTES + 2) // 3 * 4
# All of a request's URL fetches together, and any one of them.
FETCH_DEADLINE = 30.0
FETCH_TIMEOUT = 15.0


def edit_spec(request, *, validate, build) -> jobs.GenerationSpec:
    """``validate`` and ``build`` are parsing's field validation and spec builder, shared
    with multipart edits so both doors refuse and build alike."""
    # Read as a stream: request.body refuses anything over DATA_UPLOAD_MAX_MEMORY_SIZE
    # (2.5 MB), and data URLs are larger. The caller checked Content-Length; a body sent
    # without one is cut here.
    limit = settings.PIXDASH_MAX_UPLOAD_BYTES
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, "request_too_large", f"The body is larger than {limit // 2**20} MB.")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_request_error", "The body is not valid JSON.") from None
    except RecursionError:  # e.g. [[[[…]]]] 100,000 deep
        raise ApiError(
            400, "invalid_request_error", "The JSON body is nested too deeply."
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request_error", "The body must be a JSON object.")
    fields = validate(ImageEditJsonRequest, body)
    deadline = time.monotonic() + FETCH_DEADLINE
    uploads = []
    for index, reference in enumerate(fields.images):
        param = f"images[{index}]"
        data = _image_bytes(reference.image_url, param=param, deadline=deadline)
        uploads.append(_checked(images.inspect_upload, data, param=param))
    mask = None
    if fields.mask is not None:
        data = _image_bytes(fields.mask.image_url, param="mask", deadline=deadline)
        mask = _checked(images.inspect_mask, data, param="mask", image=uploads[0])
    return build(fields, uploads, mask)


def _checked(inspect, data: bytes, *, param: str, **kwargs) -> images.UploadedImage:
    try:
        return inspect(data, param=param, max_bytes=MAX_IMAGE_BYTES, **kwargs)
    except images.ImageRejected as error:
        raise ApiError(error.status, error.code, error.message, param) from None


def _image_bytes(url: str, *, param: str, deadline: float) -> bytes:
    if url.startswith("data:"):
        return _decode_data_url(url, param=param)
    return _fetch(url, param=param, deadline=deadline)


def _decode_data_url(url: str, *, param: str) -> bytes:
    """``data:[<type>][;…];base64,<data>``. The declared type is ignored: bytes are sniffed."""
    header, comma, payload = url.partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise ApiError(
            400,
            "invalid_request_error",
            f"'{param}' must be a base64 data URL (data:image/png;base64,…) or an https URL.",
            param,
        )
    if len(payload) > _MAX_BASE64_CHARS:
        raise ApiError(413, "request_too_large", f"'{param}' is larger than 20 MB.", param)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            400, "invalid_request_error", f"'{param}' is not valid base64.", param
        ) from None


def _fetch(url: str, *, param: str, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 1:
        raise ApiError(
            400,
            "invalid_request_error",
            f"Fetching the images took longer than {FETCH_DEADLINE:g} seconds.",
            param,
        )
    try:
        response = outbound.request(
            "GET",
            url,
            timeout=min(FETCH_TIMEOUT, left),
            max_bytes=MAX_IMAGE_BYTES,
            body_required=True,
            headers={"Accept": "image/png, image/jpeg, image/webp"},
        )
    except outbound.OutboundError as error:
        status, code = (413, "request_too_large") if error.kind == "too_large" else (400, None)
        message = f"Could not fetch '{param}': {error.message}"
        raise ApiError(status, code or "invalid_request_error", message, param) from None
    if not response.ok:
        # The status only: what the other server said is not ours to pass on.
        raise ApiError(
            400,
            "invalid_request_error",
            f"Could not fetch '{param}': the URL answered HTTP {response.status}.",
            param,
        )
    return response.body
