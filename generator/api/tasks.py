"""GET /v1/tasks/{id} (an async job as it stands, 404 for another team's), POST
/v1/tasks/{id}/cancel, and GET /v1/tasks (the team's jobs, newest first, keyset-paged)."""

from datetime import UTC, datetime

from django.db.models import Q
from django.http import HttpRequest, JsonResponse

from generator import catalog, jobs
from generator.api import errors, serializers
from generator.api.base import api_view
from generator.api.errors import ApiError
from generator.api.schemas import TaskList
from generator.models import Generation, Status
from pixdash.accounts.models import Scope
from pixdash.core.db import db_step
from pixdash.core.keyset import row_compare

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
# Unix seconds before 1970 or after 5138 are typos, not filters.
_MAX_TIMESTAMP = 10**11


def _generation_for_team(request, task_id: str) -> Generation:
    """The key's team's job, or a 404 (for another team's as for an unknown id)."""
    public_id = task_id.removeprefix("task_")
    generation = (
        Generation.objects.select_related("image_model")
        .filter(team=request.team, public_id=public_id)
        .first()
    )
    if generation is None:
        raise ApiError(404, "not_found", f"No task '{task_id}'.", "task_id")
    return generation


def _task_for_team(request, task_id: str) -> dict:
    return serializers.task_to_openai(request, _generation_for_team(request, task_id))


@api_view("GET", scope=Scope.TASKS_READ)
async def get_task(request: HttpRequest, task_id: str):
    return JsonResponse(await db_step(_task_for_team, request, task_id))


def _cancel(request, task_id: str) -> dict:
    generation = _generation_for_team(request, task_id)
    try:
        generation = jobs.cancel(generation=generation)
    except errors.DOMAIN_ERRORS as error:
        raise errors.from_domain(error) from None
    return serializers.task_to_openai(request, generation)


# Whoever may start tasks may stop them. Canceling twice answers the same task, so the
# endpoint needs no Idempotency-Key.
@api_view("POST", scope=(Scope.IMAGES_GENERATE, Scope.IMAGES_EDIT))
async def cancel_task(request: HttpRequest, task_id: str):
    return JsonResponse(await db_step(_cancel, request, task_id))


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(
            400, "invalid_request_error", f"limit must be 1 to {MAX_LIMIT}.", param="limit"
        )
    return int(raw)


def _timestamp(params, name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) >= _MAX_TIMESTAMP:
        raise ApiError(
            400, "invalid_request_error", f"{name} must be a Unix time in seconds.", param=name
        )
    return datetime.fromtimestamp(int(raw), tz=UTC)


def _filtered(request) -> Q:
    """The list's filters as one condition on the team's generations."""
    params = request.GET
    condition = Q(team=request.team)
    status = params.get("status")
    if status is not None:
        if status not in Status.values:
            choices = ", ".join(Status.values)
            raise ApiError(
                400, "invalid_request_error", f"status must be one of {choices}.", "status"
            )
        condition &= Q(status=status)
    model = params.get("model")
    if model is not None:
        # The name asked for, or the model that served it (an alias matches its model).
        by_name = Q(requested_model=model) | Q(image_model__public_id=model)
        image_model = catalog.resolve(model)
        condition &= by_name | Q(image_model=image_model) if image_model else by_name
    after, before = _timestamp(params, "created_after"), _timestamp(params, "created_before")
    if after is not None:
        condition &= Q(created_at__gte=after)
    if before is not None:
        condition &= Q(created_at__lt=before)
    return condition


def _cursor(request, task_id: str) -> tuple[datetime, int]:
    """The (created_at, id) of the task ``after`` names, on this team only: another team's
    id is as unknown as a made-up one."""
    found = (
        Generation.objects.filter(team=request.team, public_id=task_id.removeprefix("task_"))
        .values_list("created_at", "pk")
        .first()
    )
    if found is None:
        raise ApiError(400, "invalid_request_error", f"No task '{task_id}'.", param="after")
    return found


def _task_list(request) -> dict:
    limit = _limit(request.GET.get("limit"))
    generations = Generation.objects.filter(_filtered(request))
    after = request.GET.get("after")
    if after is not None:
        generations = generations.filter(row_compare(Generation, "<", *_cursor(request, after)))
    page = list(
        generations.select_related("image_model")
        .prefetch_related("outputs")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    data = [serializers.task_to_openai(request, g, inline_images=False) for g in page[:limit]]
    return TaskList(
        object="list",
        data=data,
        has_more=len(page) > limit,
        first_id=data[0]["id"] if data else None,
        last_id=data[-1]["id"] if data else None,
    ).model_dump(mode="json", exclude_unset=True)


@api_view("GET", scope=Scope.TASKS_READ)
async def list_tasks(request: HttpRequest):
    return JsonResponse(await db_step(_task_list, request))
