"""The /v1 API's URLs (included by the site's URLconf; served by pixdash/core/api_handler.py)."""

from django.urls import path

from generator.api import catalog as catalog_api
from generator.api import images as images_api
from generator.api import openapi
from generator.api import quote as quote_api
from generator.api import tasks as tasks_api
from generator.api import usage as usage_api
from generator.api import webhooks as webhooks_api

urlpatterns = [
    path("v1/images/generations", images_api.create_generation),
    path("v1/images/edits", images_api.create_edit),
    path("v1/async/images/generations", images_api.create_generation_async),
    path("v1/async/images/edits", images_api.create_edit_async),
    path("v1/images/quote", quote_api.create_quote),
    path("v1/tasks", tasks_api.list_tasks),
    path("v1/tasks/<str:task_id>", tasks_api.get_task),
    path("v1/tasks/<str:task_id>/cancel", tasks_api.cancel_task),
    path("v1/usage", usage_api.get_usage),
    path("v1/webhooks/default/secret", webhooks_api.get_default_secret),
    path("v1/models", catalog_api.list_models),
    path("v1/models/<str:model_id>", catalog_api.get_model),
    path("v1/openapi.json", openapi.openapi_json, name="openapi"),
    path("v1/<path:rest>", catalog_api.not_found),
]
