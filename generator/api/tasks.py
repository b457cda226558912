"""GET /v1/tasks/{id}: an async job as it stands (404 for another team's)."""

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse

from generator.api import serializers
from generator.api.base import api_view
from generator.api.errors import ApiError
from generator.models import Generation


def _task_for_team(request, task_id: str) -> dict:
    public_id = task_id.removeprefix("task_")
    generation = (
        Generation.objects.select_related("image_model")
        .filter(team=request.team, public_id=public_id)
        .first()
    )
    if generation is None:
        raise ApiError(404, "not_found", f"No task '{task_id}'.", "task_id")
    return serializers.task_to_openai(request, generation)


@api_view("GET")
async def get_task(request: HttpRequest, task_id: str):
    return JsonResponse(await sync_to_async(_task_for_team)(request, task_id))
