"""The OpenAI-compatible /v1 API: one function per endpoint, one error helper.

Generation endpoints are async views: under the ASGI server one process holds many slow
upstream calls without a thread each. Database work happens in short steps on a worker
thread (jobs.run_now), never across the upstream call.
"""

import asyncio
import base64
import json
import logging
import math
import time
from functools import wraps

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from billing.ledger import InsufficientCredits
from generator import catalog, images, jobs
from generator.media import signed_url
from generator.models import Generation, ImageModel, Source, Status
from generator.providers.base import ErrorCode
from generator.providers.registry import availability
from generator.schemas import (
    FORBIDDEN_FIELDS,
    ErrorObject,
    ImageData,
    ImageEditRequest,
    ImageGenerationRequest,
    ImagesResponse,
    ModelCapabilities,
    ModelList,
    ModelObject,
    TaskObject,
    Usage,
)
from pixdash.accounts.api_auth import api_key_required
from pixdash.api_errors import error_response

logger = logging.getLogger(__name__)

MAX_JSON_BYTES = 1024 * 1024


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        *,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.retry_after = retry_after


def _error(request, error: ApiError, **extra) -> JsonResponse:
    # 4xx answers other than 409 and 429 fail the same way when retried: tell the SDK.
    deterministic = 400 <= error.status < 500 and error.status not in (409, 429)
    return error_response(
        request,
        status=error.status,
        code=error.code,
        message=error.message,
        param=error.param,
        should_retry=False if deterministic else None,
        **extra,
    )


def api_view(*methods: str):
    """Bearer auth, method check, per-key rate limit, and errors always in the envelope."""

    def decorator(view):
        @wraps(view)
        async def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return _error(
                    request,
                    ApiError(405, "method_not_allowed", f"Use {' or '.join(methods)} here."),
                    headers={"Allow": ", ".join(methods)},
                )
            try:
                await _check_rate_limit(request)
                return await view(request, *args, **kwargs)
            except ApiError as error:
                headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
                return _error(request, error, headers=headers)
            except Exception:
                logger.exception("unhandled error in %s", view.__name__)
                return _error(request, ApiError(500, "internal_error", "Internal error."))

        return csrf_exempt(api_key_required(wrapper))

    return decorator


async def _check_rate_limit(request) -> None:
    """A fixed one-minute window per key, counted in the shared cache (Redis in production)."""
    now = time.time()
    key = f"pixdash:ratelimit:{request.api_key.pk}:{int(now // 60)}"
    if await cache.aadd(key, 1, timeout=90):
        return
    try:
        count = await cache.aincr(key)
    except ValueError:  # the window's key expired between add and incr
        return
    if count > settings.PIXDASH_API_RATE_LIMIT:
        raise ApiError(
            429,
            "rate_limited",
            f"Rate limit of {settings.PIXDASH_API_RATE_LIMIT} requests per minute "
            "for this key reached.",
            retry_after=max(1, math.ceil(60 - now % 60)),
        )


# --- Request parsing -----------------------------------------------------------------


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
        images=tuple(uploads),
        mask=mask,
    )


def _generation_spec(request) -> jobs.GenerationSpec:
    return _spec(_validate(ImageGenerationRequest, _parse_json(request)))


def _edit_spec(request) -> jobs.GenerationSpec:
    """Parse a multipart edit. Runs on a worker thread: decoding images is CPU work."""
    if _content_length(request) > settings.PIXDASH_MAX_UPLOAD_BYTES:
        limit_mb = settings.PIXDASH_MAX_UPLOAD_BYTES // (1024 * 1024)
        raise ApiError(413, "request_too_large", f"The upload is larger than {limit_mb} MB.")
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(400, "invalid_request_error", "Edits are sent as multipart/form-data.")
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
    indexed = [key for key in files if key.startswith("image[") and key[6:-1].isdigit()]
    for key in sorted(indexed, key=lambda k: int(k[6:-1])):
        parts += [(key, f) for f in files.getlist(key)]
    return parts


def _inspect(upload, param: str) -> images.UploadedImage:
    max_bytes = 20 * 1024 * 1024
    if upload.size > max_bytes:
        raise ApiError(413, "request_too_large", f"{param} is larger than 20 MB.", param)
    try:
        return images.inspect_upload(upload.read(), param=param, max_bytes=max_bytes)
    except images.ImageRejected as error:
        raise ApiError(error.status, error.code, error.message, param) from None


def _idempotency_key(request) -> str | None:
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


# --- Output shapes -------------------------------------------------------------------


def _usage(generation: Generation) -> Usage:
    return Usage(images=generation.images_delivered, credits=f"{generation.credits_charged:.2f}")


def generation_to_openai(request, generation: Generation) -> dict:
    """The images response for a completed generation (reads files for b64_json)."""
    data = []
    for output in generation.outputs.order_by("index"):
        if generation.response_format == "b64_json":
            with output.file.open("rb") as handle:
                encoded = base64.b64encode(handle.read()).decode()
            data.append(ImageData(b64_json=encoded, revised_prompt=None))
        else:
            data.append(ImageData(url=signed_url(request, output), revised_prompt=None))
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


def _failure(generation: Generation) -> ApiError:
    """The API error for a failed generation."""
    if generation.error_code == ErrorCode.PROMPT_REJECTED:
        return ApiError(422, "prompt_rejected", generation.error_message or "Prompt rejected.")
    if generation.error_code == "queue_unavailable":
        return ApiError(503, "queue_unavailable", generation.error_message)
    message = generation.error_message or "The model could not make the image."
    return ApiError(503, "model_unavailable", f"{message} Nothing was charged.")


def task_to_openai(request, generation: Generation) -> dict:
    task = TaskObject(
        id=f"task_{generation.public_id}",
        object="image.task",
        status=generation.status,
        progress=generation.progress,
        created_at=int(generation.created_at.timestamp()),
        model=generation.requested_model,
    )
    if generation.status == Status.COMPLETED:
        task.result = ImagesResponse.model_validate(generation_to_openai(request, generation))
    if generation.status == Status.FAILED:
        failure = _failure(generation)
        task.error = ErrorObject(
            message=failure.message,
            type="invalid_request_error" if failure.status < 500 else "server_error",
            param=None,
            code=failure.code,
            request_id=request.request_id,
        )
    if generation.is_finished:
        task.usage = _usage(generation)
    # exclude_unset, not exclude_none: the error object keeps "param": null (all four
    # keys, API.md) and the result keeps "revised_prompt": null like the sync response.
    return task.model_dump(mode="json", exclude_unset=True)


# --- Endpoints -----------------------------------------------------------------------


async def _create(request, *, parse, is_async: bool) -> JsonResponse:
    spec = await sync_to_async(parse)(request)
    try:
        submission = await jobs.submit_async(
            team=request.team,
            spec=spec,
            source=Source.API,
            is_async=is_async,
            api_key=request.api_key,
            idempotency_key=_idempotency_key(request),
        )
    except InsufficientCredits as error:
        raise ApiError(402, "insufficient_credits", str(error)) from None
    except jobs.JobError as error:
        raise ApiError(error.status, error.code, error.message, error.param) from None
    generation = submission.generation
    if is_async:
        body = await sync_to_async(task_to_openai)(request, generation)
        # A replay answers as the first request did: 202 with the task, as it stands now.
        return JsonResponse(body, status=202)
    if submission.replayed and not generation.is_finished:
        raise ApiError(
            409,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still running; retry shortly.",
        )
    if not submission.replayed:
        # Shielded: Django cancels a view whose client hung up, but the job should still
        # finish and settle; the client can fetch it by replaying its Idempotency-Key.
        generation = await asyncio.shield(jobs.run_now(generation))
    return await sync_to_async(_sync_answer)(request, generation)


def _sync_answer(request, generation: Generation) -> JsonResponse:
    if generation.status == Status.FAILED:
        raise _failure(generation)
    return JsonResponse(generation_to_openai(request, generation))


@api_view("POST")
async def create_generation(request: HttpRequest):
    return await _create(request, parse=_generation_spec, is_async=False)


@api_view("POST")
async def create_edit(request: HttpRequest):
    return await _create(request, parse=_edit_spec, is_async=False)


@api_view("POST")
async def create_generation_async(request: HttpRequest):
    return await _create(request, parse=_generation_spec, is_async=True)


@api_view("POST")
async def create_edit_async(request: HttpRequest):
    return await _create(request, parse=_edit_spec, is_async=True)


def _task_for_team(request, task_id: str) -> dict:
    public_id = task_id.removeprefix("task_")
    generation = (
        Generation.objects.select_related("image_model")
        .filter(team=request.team, public_id=public_id)
        .first()
    )
    if generation is None:
        raise ApiError(404, "not_found", f"No task '{task_id}'.", "task_id")
    return task_to_openai(request, generation)


@api_view("GET")
async def get_task(request: HttpRequest, task_id: str):
    return JsonResponse(await sync_to_async(_task_for_team)(request, task_id))


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


def _model_list() -> dict:
    models = [model_to_openai(m) for m in catalog.enabled_models()]
    return ModelList(data=models).model_dump(mode="json")


def _one_model(model_id: str) -> dict:
    image_model = catalog.resolve(model_id)
    if image_model is None:
        raise ApiError(404, "model_not_found", f"The model '{model_id}' does not exist.", "model")
    return model_to_openai(image_model)


@api_view("GET")
async def list_models(request: HttpRequest):
    return JsonResponse(await sync_to_async(_model_list)())


@api_view("GET")
async def get_model(request: HttpRequest, model_id: str):
    return JsonResponse(await sync_to_async(_one_model)(model_id))


@csrf_exempt
def not_found(request: HttpRequest, rest: str = ""):
    return error_response(
        request,
        status=404,
        code="not_found",
        message=f"No endpoint {request.method} /v1/{rest}.",
        should_retry=False,
    )
