"""Login throttling (django-axes): after PIXDASH_LOGIN_FAILURE_LIMIT failed sign-ins for
one account, or from one address, further attempts are refused for
PIXDASH_LOGIN_COOLOFF_MINUTES with a page that says so. A success resets the count."""

from django.conf import settings
from django.shortcuts import render

from pixdash.accounts.models import normalize_email


def username_for(request, credentials: dict | None) -> str:
    """Count attempts per account, however the address is typed (case, spaces)."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return normalize_email(str(raw))


def locked_out(request, credentials, *args, **kwargs):
    context = {"minutes": settings.PIXDASH_LOGIN_COOLOFF_MINUTES}
    return render(request, "registration/locked_out.html", context, status=429)
