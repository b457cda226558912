"""The current team's page: name, members and roles, pending invitations; and the list of
the user's teams with create and switch."""

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pixdash.accounts import once
from pixdash.accounts.access import team_required
from pixdash.accounts.forms import InvitationForm, RetentionForm, RoleForm, TeamNameForm
from pixdash.accounts.models import Membership, Role, Team
from pixdash.accounts.redirects import safe_next
from pixdash.accounts.teams import (
    TeamRuleError,
    change_role,
    create_team,
    keys_created_by_members,
    leave_team,
    remove_member,
    rename_team,
    set_image_retention,
    switch_team,
)


def _get_membership_for_team(request, pk: int) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user"), pk=pk, team=request.team)


def render_team(
    request, *, name_form=None, invitation_form=None, retention_form=None, status=200, **extra
):
    team = request.team
    members = list(team.memberships.select_related("user").order_by("created_at", "id"))
    keys = keys_created_by_members(team)
    for member in members:  # offered for revocation when the member is removed
        member.created_keys = keys.get(member.user_id, [])
    owners = sum(1 for m in members if m.is_owner)
    context = {
        **extra,
        "members": members,
        # The last owner cannot leave (teams.leave_team refuses): say so instead of offering it.
        "sole_owner": request.membership.is_owner and owners == 1,
        "invitations": [i for i in team.invitations.select_related("invited_by") if i.is_pending],
        "name_form": name_form or TeamNameForm(initial={"name": team.name}),
        "invitation_form": invitation_form or InvitationForm(),
        "retention_form": retention_form
        or RetentionForm(initial={"days": team.image_retention_days}),
        "roles": Role.choices,
    }
    return render(request, "accounts/team.html", context, status=status)


@never_cache
@require_GET
@team_required
def team_detail(request):
    new = once.take(request, "invitation")
    extra = {}
    if new is not None:
        link, pk = new
        extra = {
            "new_invitation": request.team.invitations.filter(pk=pk).first(),
            "new_invitation_link": link,
        }
    response = render_team(request, **extra)
    once.clear(response, "invitation")
    return response


@require_POST
@team_required(manager=True)
def team_rename(request):
    form = TeamNameForm(request.POST)
    if not form.is_valid():
        return render_team(request, name_form=form, status=400)
    rename_team(team=request.team, name=form.cleaned_data["name"])
    messages.success(request, "Team renamed.")
    return redirect("team", request.team.slug)


@require_POST
@team_required(manager=True)
def team_retention(request):
    form = RetentionForm(request.POST)
    if not form.is_valid():
        return render_team(request, retention_form=form, status=400)
    days = form.cleaned_data["days"]
    set_image_retention(team=request.team, days=days)
    messages.success(
        request, f"Images are now kept for {days} days." if days else "Images are now kept forever."
    )
    return redirect("team", request.team.slug)


@require_POST
@team_required(manager=True)
def member_role(request, pk: int):
    target = _get_membership_for_team(request, pk)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise TeamRuleError("Pick a valid role.")
        change_role(actor=request.membership, target=target, role=form.cleaned_data["role"])
    except TeamRuleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{target.user} is now {target.get_role_display().lower()}.")
    return redirect("team", request.team.slug)


@require_POST
@team_required(manager=True)
def member_remove(request, pk: int):
    target = _get_membership_for_team(request, pk)
    # The form sends revoke_keys=0 when the box is unticked; anything else revokes.
    revoke = request.POST.get("revoke_keys", "1") != "0"
    try:
        revoked = remove_member(actor=request.membership, target=target, revoke_keys=revoke)
    except TeamRuleError as error:
        messages.error(request, str(error))
    else:
        keys = f" and {revoked} API key{'s' if revoked != 1 else ''} revoked" if revoked else ""
        messages.success(request, f"{target.user} was removed from {request.team}{keys}.")
    return redirect("team", request.team.slug)


@require_POST
@team_required
def team_leave(request):
    try:
        leave_team(membership=request.membership)
    except TeamRuleError as error:
        messages.error(request, str(error))
        return redirect("team", request.team.slug)
    messages.success(request, f"You left {request.team}.")
    return redirect("teams")


@require_http_methods(["GET", "POST"])
@login_required
def team_list(request):
    form = TeamNameForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        team = create_team(owner=request.user, name=form.cleaned_data["name"])
        messages.success(request, f"{team} created. You are its owner.")
        return redirect("team", team.slug)
    memberships = request.user.memberships.select_related("team").order_by("team__name")
    return render(
        request,
        "accounts/teams.html",
        {"memberships": memberships, "form": form},
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def team_switch(request):
    team_id = request.POST.get("team", "")
    # isdigit() alone lets "²" through to int(), which raises: only ASCII digits are ids.
    if not (team_id.isascii() and team_id.isdigit()):
        raise Http404("No such team.")
    team = get_object_or_404(Team, pk=int(team_id), memberships__user=request.user)
    switch_team(user=request.user, team=team)
    messages.success(request, f"Switched to {team}.")
    return redirect(_same_page_of(team, safe_next(request)))


def _same_page_of(team: Team, path: str) -> str:
    """The page at ``path`` (a team page's address) for ``team``: the same list or form;
    for one object (an image, a job), which the other team does not have, its home."""
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        match = None
    if match is None or set(match.kwargs) != {"team_slug"}:
        return reverse("home", args=[team.slug])
    return reverse(match.view_name, args=[team.slug])
