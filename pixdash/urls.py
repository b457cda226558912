from django.contrib import admin
from django.urls import include, path

from billing import urls as billing_urls
from generator import urls as generator_urls
from generator.views.generate import home
from pixdash import views as project_views
from pixdash.accounts import urls as accounts_urls
from pixdash.accounts.access import team_urls
from webhooks import urls as webhooks_urls

# Pages of one team, under /t/<team_slug>/ (see pixdash.accounts.access).
team_patterns = [
    path("", home, name="home"),
    *generator_urls.team_urlpatterns,
    *accounts_urls.team_urlpatterns,
    *billing_urls.team_urlpatterns,
    *webhooks_urls.team_urlpatterns,
]

# A database outage is a retryable 503 (JSON on /v1), any other crash the 500 page.
handler500 = "pixdash.core.outages.server_error_or_unavailable"

urlpatterns = [
    path("", project_views.root, name="root"),
    path("admin/", admin.site.urls),
    *team_urls(team_patterns),
    path("", include(generator_urls.urlpatterns)),
    path("", include(accounts_urls.urlpatterns)),
    path("", include(billing_urls.urlpatterns)),
    # Team pages from before the team was part of their address: /gallery/ and the like
    # redirect to the same page of the user's team. Last, so it only sees what is unknown.
    path("<path:rest>", project_views.team_page_moved, name="team_page_moved"),
]
