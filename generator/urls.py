from django.urls import include, path

from generator import media, staff
from generator.views import activity, gallery, generate, jobs, models

urlpatterns = [
    path("", include("generator.api.urls")),
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
    path("generate/", generate.generate, name="generate"),
    path("generate/cost/", generate.generate_cost, name="generate_cost"),
    path("generate/options/", generate.generate_options, name="generate_options"),
    path("jobs/clear/", jobs.jobs_clear, name="jobs_clear"),
    path("jobs/<int:pk>/", jobs.job_card, name="job_card"),
    path("jobs/<int:pk>/rerun/", jobs.job_rerun, name="job_rerun"),
    path("jobs/<int:pk>/compare/", jobs.job_compare, name="job_compare"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel, name="job_cancel"),
    path("jobs/<int:pk>/dismiss/", jobs.job_dismiss, name="job_dismiss"),
    path("jobs/<int:pk>/inputs/<int:input_pk>", jobs.job_input, name="job_input"),
    path("compare/", jobs.compare, name="compare"),
    path("gallery/", gallery.gallery_page, name="gallery"),
    path("images/bulk/", gallery.images_bulk, name="images_bulk"),
    path("images/restore/", gallery.images_restore_many, name="images_restore_many"),
    path("images/download.zip", gallery.images_zip, name="images_zip"),
    path("images/<int:pk>/", gallery.image_detail, name="image_detail"),
    path("images/<int:pk>/favourite/", gallery.image_favourite, name="image_favourite"),
    path("images/<int:pk>/delete/", gallery.image_delete, name="image_delete"),
    path("images/<int:pk>/restore/", gallery.image_restore, name="image_restore"),
    path("models/", models.models_page, name="models"),
    path("activity/", activity.activity_page, name="activity"),
]
