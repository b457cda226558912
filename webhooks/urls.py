from django.urls import path

from webhooks import views

# Pages of one team (see pixdash.accounts.access.team_urls).
team_urlpatterns = [
    path("webhooks/", views.webhooks_page, name="webhooks"),
    path("webhooks/new/", views.endpoint_create, name="webhook_create"),
    path("webhooks/<int:pk>/toggle/", views.endpoint_toggle, name="webhook_toggle"),
    path("webhooks/<int:pk>/test/", views.endpoint_test, name="webhook_test"),
    path("webhooks/<int:pk>/delete/", views.endpoint_delete, name="webhook_delete"),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        views.delivery_redeliver,
        name="webhook_redeliver",
    ),
]
