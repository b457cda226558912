"""Project-level pages for addresses without a team: ``/``, and the team pages'
addresses from before the team was part of them (``/gallery/``, ``/images/5/``). Both send
the user to a team's page; an image or job goes to the team that owns it, when the user
is a member of it."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.http import require_safe

from generator.models import Generation, OutputImage
from pixdash.accounts.models import Membership
from pixdash.accounts.teams import current_membership

# Which object an old id URL names, to find its team (URL name prefix -> model).
_OWNED = {"image_": OutputImage, "job_": Generation}


@require_safe
def root(request):
    if not request.user.is_authenticated:
        return redirect("login")
    membership = current_membership(request.user)
    if membership is None:
        messages.info(request, "You are not in a team yet. Create one to continue.")
        return redirect("teams")
    return redirect("home", membership.team.slug)


def _owning_membership(request, url_name: str, pk: int | None) -> Membership | None:
    for prefix, model in _OWNED.items():
        if pk is not None and url_name.startswith(prefix):
            team_id = model.objects.filter(pk=pk).values_list("team_id", flat=True).first()
            return Membership.objects.filter(user=request.user, team_id=team_id).first()
    return None


@require_safe
def team_page_moved(request, rest: str):
    try:
        match = resolve(f"/t/-/{rest}")
    except Resolver404:
        raise Http404("No such page.") from None
    if "team_slug" not in match.kwargs:
        raise Http404("No such page.")
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    kwargs = {key: value for key, value in match.kwargs.items() if key != "team_slug"}
    membership = _owning_membership(request, match.url_name, kwargs.get("pk"))
    membership = membership or current_membership(request.user)
    if membership is None:
        return redirect("root")
    url = reverse(match.url_name, kwargs={**kwargs, "team_slug": membership.team.slug})
    query = request.META.get("QUERY_STRING", "")
    return redirect(f"{url}?{query}" if query else url)
