"""/v1/openapi.json, generated from the pydantic models in generator/api/schemas.py that also
validate requests and build responses."""

from functools import cache

from django.http import JsonResponse
from django.views.decorators.http import require_GET
from pydantic.json_schema import models_json_schema

from generator.api.schemas import (
    ErrorResponse,
    ImageEditJsonRequest,
    ImageEditRequest,
    ImageGenerationRequest,
    ImagesResponse,
    ModelList,
    ModelObject,
    QuoteObject,
    TaskList,
    TaskObject,
    UsageList,
    WebhookSecret,
)
from generator.models import Status

_REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "Invalid request",
    "401": "Missing or invalid API key",
    "402": "Not enough credits",
    "403": "Key lacks the scope, is not allowed this model, or its budget is spent",
    "404": "Unknown model or task",
    "409": "Same Idempotency-Key still running, or (cancel) the task already finished",
    "413": "Upload too large",
    "422": "Prompt rejected by the provider's safety filter; nothing charged",
    "429": "Rate limited; see Retry-After",
    "503": "Model unavailable; nothing charged",
}


def _ref(model) -> dict:
    return {"$ref": _REF.format(model=model.__name__)}


def _responses(status: str, model, description: str) -> dict:
    responses = {
        status: {
            "description": description,
            "content": {"application/json": {"schema": _ref(model)}},
        }
    }
    for code, text in _ERRORS.items():
        responses[code] = {
            "description": text,
            "content": {"application/json": {"schema": _ref(ErrorResponse)}},
        }
    return responses


def _edit_form_schema() -> dict:
    """The edit request's fields plus its files, as multipart/form-data."""
    schema = {
        "allOf": [_ref(ImageEditRequest)],
        "type": "object",
        "required": ["image", "model", "prompt"],
    }
    schema["properties"] = {
        "image": {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": 16},
        "mask": {"type": "string", "format": "binary"},
    }
    return schema


def _query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _get(summary: str, model, description: str, parameters: list[dict] | None = None) -> dict:
    operation = {"summary": summary, "responses": _responses("200", model, description)}
    if parameters:
        operation["parameters"] = parameters
    return {"get": operation}


_UNIX_TIME = {"type": "integer", "minimum": 0, "maximum": 10**11 - 1}

TASK_LIST_PARAMETERS = [
    _query("after", {"type": "string"}, "A task id from the previous page (its last_id)"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "Page size, default 20"),
    _query(
        "status",
        {"type": "string", "enum": list(Status.values)},
        "Only tasks in this status",
    ),
    _query("model", {"type": "string"}, "Only tasks for this model (public id or alias)"),
    _query("created_after", _UNIX_TIME, "Created at or after this Unix time"),
    _query("created_before", _UNIX_TIME, "Created before this Unix time"),
]


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
}


_DATE = {"type": "string", "format": "date"}

USAGE_PARAMETERS = [
    _query("start", _DATE, "First day, YYYY-MM-DD (default: 29 days before end)"),
    _query("end", _DATE, "Last day, YYYY-MM-DD (default: today)"),
    _query(
        "group_by",
        {"type": "string", "pattern": r"^((day|model|key|user)(,(day|model|key|user))*)?$"},
        "Comma-separated: day, model, key, user (the end user); default day",
    ),
    _query("user", {"type": "string"}, "Only this end user's usage"),
]


def _post(
    summary: str,
    body: dict,
    status: str,
    model,
    description: str,
    media: str,
    *,
    idempotent: bool = True,
) -> dict:
    """``idempotent``: the endpoint takes an Idempotency-Key (those that change state)."""
    operation = {
        "summary": summary,
        "requestBody": {"required": True, "content": {media: {"schema": body}}},
        "responses": _responses(status, model, description),
    }
    if idempotent:
        operation["parameters"] = [IDEMPOTENCY_KEY]
    return {"post": operation}


def _with_json_edits(path: dict) -> dict:
    """Edits also come as JSON, images by data URL or https URL."""
    content = path["post"]["requestBody"]["content"]
    content["application/json"] = {"schema": _ref(ImageEditJsonRequest)}
    return path


@cache
def openapi_document() -> dict:
    _, definitions = models_json_schema(
        [
            (
                model,
                "validation"
                if model in (ImageGenerationRequest, ImageEditRequest, ImageEditJsonRequest)
                else "serialization",
            )
            for model in (
                ImageGenerationRequest,
                ImageEditRequest,
                ImageEditJsonRequest,
                ImagesResponse,
                TaskObject,
                ModelList,
                ModelObject,
                ErrorResponse,
                TaskList,
                QuoteObject,
                UsageList,
                WebhookSecret,
            )
        ],
        ref_template=_REF,
    )
    generate_body, edit_body = _ref(ImageGenerationRequest), _edit_form_schema()
    json_media, form_media = "application/json", "multipart/form-data"
    paths = {
        "/v1/images/generations": _post(
            "Generate images", generate_body, "200", ImagesResponse, "Images", json_media
        ),
        "/v1/images/edits": _with_json_edits(
            _post("Edit images", edit_body, "200", ImagesResponse, "Images", form_media)
        ),
        "/v1/async/images/generations": _post(
            "Queue a generation", generate_body, "202", TaskObject, "Task", json_media
        ),
        "/v1/async/images/edits": _with_json_edits(
            _post("Queue an edit", edit_body, "202", TaskObject, "Task", form_media)
        ),
        "/v1/images/quote": _post(
            "What a generation would hold, and whether it would be accepted",
            generate_body,
            "200",
            QuoteObject,
            "Quote",
            json_media,
            idempotent=False,
        ),
        "/v1/tasks": _get(
            "The team's tasks, newest first", TaskList, "Tasks", TASK_LIST_PARAMETERS
        ),
        "/v1/tasks/{task_id}": _get(
            "A task's state and result", TaskObject, "Task", [_path_id("task_id")]
        ),
        "/v1/tasks/{task_id}/cancel": {
            "post": {
                "summary": "Cancel a task: at once if queued; a running one stops calling the "
                "model, keeps and charges what it delivered. 409 task_finished if it ended.",
                "parameters": [_path_id("task_id")],
                "responses": _responses("200", TaskObject, "Task"),
            }
        },
        "/v1/usage": _get(
            "Settled usage from the daily rollup (needs the usage:read scope)",
            UsageList,
            "Usage",
            USAGE_PARAMETERS,
        ),
        "/v1/webhooks/default/secret": _get(
            "The secret signing deliveries to callback_url", WebhookSecret, "Secret"
        ),
        "/v1/models": {
            "get": {
                "summary": "Models with prices and capabilities",
                "responses": _responses("200", ModelList, "Models"),
            }
        },
        "/v1/models/{model_id}": {
            "get": {
                "summary": "One model",
                "parameters": [
                    {
                        "name": "model_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": _responses("200", ModelObject, "Model"),
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pixdash API",
            "version": "1",
            "description": "OpenAI-compatible image generation.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@require_GET
def openapi_json(request):
    return JsonResponse(openapi_document())
