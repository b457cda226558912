from django.urls import path

from generator import media, staff, views
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
    path("media/signed/<str:token>", media.media_signed, name="media_signed"),
    # Any member of the owning team may fetch an image, whichever team a page shows.
    path(
        "images/<int:pk>/original",
        media.media_member,
        {"which": "original"},
        name="image_original",
    ),
    path(
        "images/<int:pk>/thumbnail",
        media.media_member,
        {"which": "thumbnail"},
        name="image_thumbnail",
    ),
    # Staff-only provider health.
    path("staff/providers/", staff.provider_stats_page, name="provider_stats"),
]

# Browser pages of one team: generator, jobs, compare, gallery, models.
team_urlpatterns = [
    path("generate/", views.generate, name="generate"),
    path("generate/cost/", views.generate_cost, name="generate_cost"),
    path("generate/options/", views.generate_options, name="generate_options"),
    path("jobs/<int:pk>/", views.job_card, name="job_card"),
    path("jobs/<int:pk>/rerun/", views.job_rerun, name="job_rerun"),
    path("jobs/<int:pk>/compare/", views.job_compare, name="job_compare"),
    path("compare/", views.compare, name="compare"),
    path("gallery/", views.gallery_page, name="gallery"),
    path("images/<int:pk>/", views.image_detail, name="image_detail"),
    path("images/<int:pk>/favourite/", views.image_favourite, name="image_favourite"),
    path("images/<int:pk>/delete/", views.image_delete, name="image_delete"),
    path("images/<int:pk>/restore/", views.image_restore, name="image_restore"),
    path("models/", views.models_page, name="models"),
]
