"""GET /v1/models and /v1/models/{id}, and the JSON 404 for unknown /v1 paths."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from generator import catalog
from generator.api import serializers
from generator.api.base import api_view
from generator.api.errors import ApiError
from generator.api.schemas import ModelList
from pixdash.core.api_errors import error_response
from pixdash.core.db import db_step


def _model_list() -> dict:
    models = [serializers.model_to_openai(m) for m in catalog.enabled_models()]
    return ModelList(data=models).model_dump(mode="json")


def _one_model(model_id: str) -> dict:
    image_model = catalog.resolve(model_id)
    if image_model is None:
        raise ApiError(404, "model_not_found", f"The model '{model_id}' does not exist.", "model")
    return serializers.model_to_openai(image_model)


@api_view("GET")
async def list_models(request: HttpRequest):
    return JsonResponse(await db_step(_model_list))


@api_view("GET")
async def get_model(request: HttpRequest, model_id: str):
    return JsonResponse(await db_step(_one_model, model_id))


@csrf_exempt
def not_found(request: HttpRequest, rest: str = ""):
    return error_response(
        request,
        status=404,
        code="not_found",
        message=f"No endpoint {request.method} /v1/{rest}.",
        should_retry=False,
    )
