"""Who may see and do what on dashboard pages.

``team_required`` resolves the signed-in user's current membership once per request and
puts it on ``request.membership`` / ``request.team``; every query for a team's objects
then filters on ``request.team``, so another team's ids answer 404.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from pixdash.accounts.teams import current_membership


def team_required(view=None, *, manager: bool = False):
    """Require a signed-in member of a team; with ``manager=True``, an owner or admin."""

    def decorator(view_func):
        @login_required
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            membership = current_membership(request.user)
            if membership is None:
                messages.info(request, "You are not in a team yet. Create one to continue.")
                return redirect("teams")
            if manager and not membership.is_manager:
                raise PermissionDenied("Only team owners and admins can do this.")
            request.membership, request.team = membership, membership.team
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator
