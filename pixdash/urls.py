from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path


def home(request):
    """The dashboard's landing page: the team page until the generator lands."""
    return redirect("team" if request.user.is_authenticated else "login")


urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("", include("generator.urls")),
    path("", include("pixdash.accounts.urls")),
]
