from django.contrib import messages
from django.core.mail import send_mail
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from pixdash.accounts import once
from pixdash.accounts.access import team_required
from pixdash.accounts.forms import InvitationForm
from pixdash.accounts.models import Invitation
from pixdash.accounts.teams import (
    TeamRuleError,
    accept_invitation,
    create_invitation,
    find_invitation,
    revoke_invitation,
)
from pixdash.accounts.views.team import render_team


def _send_invitation_email(request, invitation: Invitation, link: str) -> None:
    context = {"invitation": invitation, "link": link, "inviter": request.user}
    send_mail(
        subject=f"{request.user.get_full_name()} invited you to {invitation.team} on Pixdash",
        message=render_to_string("accounts/invitation_email.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@never_cache
@require_POST
@team_required(manager=True)
def invitation_create(request):
    form = InvitationForm(request.POST)
    if not form.is_valid():
        return render_team(request, invitation_form=form, status=400)
    try:
        invitation, token = create_invitation(
            team=request.team,
            invited_by=request.user,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
        )
    except TeamRuleError as error:
        form.add_error("email", str(error))
        return render_team(request, invitation_form=form, status=400)
    link = request.build_absolute_uri(reverse("invitation_accept", args=[token]))
    if invitation.email:
        _send_invitation_email(request, invitation, link)
    # The token is stored only as a digest: the team page shows the link this once, and a
    # reload of it (or of this POST's result) creates and sends nothing again.
    response = redirect("team", request.team.slug)
    once.stash(request, response, "invitation", link, about=invitation.pk)
    return response


@require_POST
@team_required(manager=True)
def invitation_revoke(request, pk: int):
    invitation = get_object_or_404(Invitation, pk=pk, team=request.team)
    revoke_invitation(invitation=invitation)
    messages.success(request, "Invitation revoked; its link no longer works.")
    return redirect("team", request.team.slug)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    invitation = find_invitation(token)
    if invitation is None or not invitation.is_pending:
        status = 404 if invitation is None else 410
        return render(
            request, "accounts/invitation.html", {"invitation": invitation}, status=status
        )
    if request.method == "POST" and request.user.is_authenticated:
        try:
            accept_invitation(invitation=invitation, user=request.user)
        except TeamRuleError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"You joined {invitation.team}.")
            return redirect("home", invitation.team.slug)
    return render(request, "accounts/invitation.html", {"invitation": invitation})
