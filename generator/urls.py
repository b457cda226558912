from django.urls import path

from generator import api, media, openapi

urlpatterns = [
    path("v1/images/generations", api.create_generation),
    path("v1/images/edits", api.create_edit),
    path("v1/async/images/generations", api.create_generation_async),
    path("v1/async/images/edits", api.create_edit_async),
    path("v1/tasks/<str:task_id>", api.get_task),
    path("v1/models", api.list_models),
    path("v1/models/<str:model_id>", api.get_model),
    path("v1/openapi.json", openapi.openapi_json, name="openapi"),
    path("v1/<path:rest>", api.not_found),
    path("media/signed/<str:token>", media.media_signed, name="media_signed"),
]
