from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path
from django.views.decorators.http import require_GET

from generator.views import generate


@require_GET
def home(request):
    """The dashboard's landing page: the generator for signed-in users."""
    if not request.user.is_authenticated:
        return redirect("login")
    return generate(request)


urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("", include("generator.urls")),
    path("", include("pixdash.accounts.urls")),
    path("", include("billing.urls")),
]
