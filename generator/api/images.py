"""POST /v1/images/generations and /v1/images/edits, and their /v1/async/ twins."""

import asyncio

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse

from generator import jobs
from generator.api import errors, parsing, serializers
from generator.api.base import api_view
from generator.api.errors import ApiError
from generator.models import Generation, Source, Status
from pixdash.accounts.models import Scope


async def _create(request, *, parse, is_async: bool) -> JsonResponse:
    spec = await sync_to_async(parse)(request)
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
        body = await sync_to_async(serializers.task_to_openai)(request, generation)
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
    if generation.status == Status.FAILED or (
        generation.status == Status.CANCELED and not generation.images_delivered
    ):
        raise serializers.failure(generation)
    return JsonResponse(serializers.generation_to_openai(request, generation))


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
