from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from pixdash.accounts.forms import SignupForm
from pixdash.accounts.models import Invitation
from pixdash.accounts.redirects import safe_next
from pixdash.accounts.teams import TeamRuleError, accept_invitation, find_invitation, sign_up


def _invitation_in(next_url: str) -> Invitation | None:
    """The pending invitation a sign-up link carries in ?next=/invitations/<token>/."""
    marker = "/invitations/"
    if not next_url.startswith(marker):
        return None
    invitation = find_invitation(next_url[len(marker) :].strip("/"))
    return invitation if invitation and invitation.is_pending else None


def _join_invited_team(request, invitation: Invitation, user):
    """Signing up through an invitation accepts it at once: the link is used up (so one
    link never opens a closed instance to many sign-ups) and the new user lands in the
    team they were invited to."""
    try:
        accept_invitation(invitation=invitation, user=user)
    except TeamRuleError as error:
        messages.error(request, str(error))
        return redirect("root")
    messages.success(request, f"Welcome to Pixdash! You joined {invitation.team}.")
    return redirect("team", invitation.team.slug)


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("root")
    next_url = safe_next(request)
    invitation = _invitation_in(next_url)
    if not settings.PIXDASH_SIGNUP_OPEN and invitation is None:
        return render(request, "accounts/signup_closed.html", status=403)
    invited_email = invitation.email if invitation else ""
    form = SignupForm(
        request.POST if request.method == "POST" else None,
        initial={"email": invited_email},
        invited_email=invited_email,
    )
    if form.is_bound and form.is_valid():
        user = sign_up(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            name=form.cleaned_data["name"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if invitation is not None:
            return _join_invited_team(request, invitation, user)
        messages.success(request, f"Welcome to Pixdash! {user.current_team} is ready.")
        return redirect(next_url or reverse("home", args=[user.current_team.slug]))
    return render(
        request,
        "accounts/signup.html",
        {"form": form, "next": next_url, "invitation": invitation},
        status=400 if form.errors else 200,
    )
