"""Who may see and do what on dashboard pages, and for which team.

Every team page lives under ``/t/<team_slug>/`` (see ``team_urls``), so a page, its forms
and its htmx requests always act for the team the page shows: two tabs on two teams
cannot cross, whatever the session remembers. ``team_required`` takes the slug from the
URL, checks the signed-in user's membership of that team once per request, and puts it on
``request.membership`` / ``request.team``; every query for a team's objects then filters on
``request.team``, so another team's ids answer 404. A page added under the prefix with this
decorator gets all of that by itself; links to it pass the slug:
``{% url 'webhooks' team.slug %}``, ``redirect("webhooks", request.team.slug)``.

``user.current_team`` only remembers the team used last, for addresses without a team
(``/``, and the pre-prefix URLs, which redirect).
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import include, path
from django.utils.cache import patch_vary_headers

from pixdash.accounts.models import Membership, User

TEAM_PREFIX = "t/<slug:team_slug>/"


def team_urls(patterns: list) -> list:
    """URL patterns served once per team, under ``/t/<team_slug>/``."""
    return [path(TEAM_PREFIX, include(patterns))]


class NotAMember(Exception):
    """The URL names a team the user does not belong to (or that does not exist)."""


def membership_for(request, team_slug: str) -> Membership:
    """The user's membership of the URL's team. All their memberships are read at once
    (they are few) and kept on the request: the team switcher lists them without asking
    again."""
    memberships = list(
        Membership.objects.select_related("team").filter(user=request.user).order_by("team__name")
    )
    request.memberships = memberships
    membership = next((m for m in memberships if m.team.slug == team_slug), None)
    if membership is None:
        raise NotAMember(team_slug)
    return membership


def remember_team(user, membership: Membership) -> None:
    """Make this the team that addresses without a team (``/``) open next time."""
    if user.current_team_id != membership.team_id:
        User.objects.filter(pk=user.pk).update(current_team=membership.team_id)
        user.current_team_id = membership.team_id


def not_a_member(request):
    """Explain instead of a bare 404: the link may be for a team the user left, or was
    shared by someone in another team. Same status as any other team's object."""
    memberships = request.user.memberships.select_related("team").order_by("team__name")
    return render(request, "accounts/not_a_member.html", {"memberships": memberships}, status=404)


def team_required(view=None, *, manager: bool = False):
    """Require a signed-in member of the URL's team; with ``manager=True``, an owner or
    admin. The view receives the URL's other arguments, not the slug."""

    def decorator(view_func):
        @login_required
        @wraps(view_func)
        def wrapper(request, *args, team_slug: str, **kwargs):
            try:
                membership = membership_for(request, team_slug)
            except NotAMember:
                return not_a_member(request)
            if manager and not membership.is_manager:
                raise PermissionDenied("Only team owners and admins can do this.")
            request.membership, request.team = membership, membership.team
            if request.method in ("GET", "HEAD") and not request.htmx:
                remember_team(request.user, membership)
            response = view_func(request, *args, **kwargs)
            # Team pages answer htmx with fragments at the page's own address: caches
            # (the browser's Back included) must not hand a fragment to a page load.
            patch_vary_headers(response, ["HX-Request"])
            return response

        return wrapper

    return decorator(view) if view is not None else decorator
