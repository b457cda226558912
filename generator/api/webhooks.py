"""GET /v1/webhooks/default/secret: the secret that signs deliveries to a task's
callback_url (Replicate's shape), for keys that may start tasks."""

from django.http import HttpRequest, JsonResponse

from generator.api.base import api_view
from generator.api.schemas import WebhookSecret
from pixdash.accounts.models import Scope
from pixdash.core.db import db_step
from webhooks.endpoints import default_secret


@api_view("GET", scope=(Scope.IMAGES_GENERATE, Scope.IMAGES_EDIT))
async def get_default_secret(request: HttpRequest):
    secret = await db_step(default_secret, request.team)
    return JsonResponse(WebhookSecret(key=secret).model_dump())
