"""POST /v1/images/generations and /v1/images/edits, and their /v1/async/ twins."""

from asgiref.sync import sync_to_async
from django.http import HttpRequest

from generator import jobs
from generator.api import errors, parsing, serializers
from generator.api.base import api_view
from generator.api.errors import ApiError
from generator.jobs.deliver import Delivery
from generator.models import Source, Status
from pixdash.accounts.models import Scope
from pixdash.core.db import db_step
from pixdash.core.responses import JSONResponse


async def _create(request, *, parse, is_async: bool) -> JSONResponse:
    if parse is parsing.generation_spec:
        spec = parse(request)  # a small JSON body: cheaper here than a thread hop
    else:
        spec = await sync_to_async(parse, thread_sensitive=False)(request)  # decodes images
    try:
        submission = await jobs.submit_async(
            team=request.team,
            spec=spec,
            source=Source.API,
            is_async=is_async,
            api_key=request.api_key,
            idempotency_key=parsing.idempotency_key(request),
        )
    except errors.DOMAIN_ERRORS as error:
        raise errors.from_domain(error) from None
    generation = submission.generation
    if is_async:
        if submission.replayed:  # answers as the first request did: the task as it stands
            body = await db_step(serializers.task_to_openai, request, generation)
        else:
            body = serializers.task_to_openai(request, generation)
        return JSONResponse(body, status=202)
    if submission.replayed and not generation.is_finished:
        raise ApiError(
            409,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still running; retry shortly.",
        )
    result = await jobs.run_now(submission)
    if result.images is None:  # a replay: the images are read back
        return await db_step(_sync_answer, request, result)
    return _sync_answer(request, result)


def _sync_answer(request, result: Delivery) -> JSONResponse:
    generation = result.generation
    if generation.status == Status.FAILED or (
        generation.status == Status.CANCELED and not generation.images_delivered
    ):
        raise serializers.failure(generation)
    return JSONResponse(
        serializers.generation_to_openai(request, generation, delivered=result.images)
    )


@api_view("POST", scope=Scope.IMAGES_GENERATE)
async def create_generation(request: HttpRequest):
    return await _create(request, parse=parsing.generation_spec, is_async=False)


@api_view("POST", scope=Scope.IMAGES_EDIT)
async def create_edit(request: HttpRequest):
    return await _create(request, parse=parsing.edit_spec, is_async=False)


@api_view("POST", scope=Scope.IMAGES_GENERATE)
async def create_generation_async(request: HttpRequest):
    return await _create(request, parse=parsing.generation_spec, is_async=True)


@api_view("POST", scope=Scope.IMAGES_EDIT)
async def create_edit_async(request: HttpRequest):
    return await _create(request, parse=parsing.edit_spec, is_async=True)
