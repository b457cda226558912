"""API keys page. Members see, roll and revoke the keys they created; owners and admins,
all of the team's keys. A new (or rolled) key's secret appears only in the response that
created it."""

from django.contrib import messages
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from pixdash.accounts.access import team_required
from pixdash.accounts.forms import ApiKeyForm, RollKeyForm
from pixdash.accounts.keys import KeyRefused, create_api_key, revoke_api_key, roll_api_key
from pixdash.accounts.models import ApiKey


def _visible_keys(request) -> QuerySet[ApiKey]:
    keys = (
        ApiKey.objects.filter(team=request.team)
        .select_related("created_by", "rolled_from")
        .prefetch_related("successors")
    )
    return keys if request.membership.is_manager else keys.filter(created_by=request.user)


def _get_key_for_member(request, pk: int) -> ApiKey:
    """404 for another team's key, and for a teammate's key when the user is a member."""
    return get_object_or_404(_visible_keys(request), pk=pk)


def _render_keys(request, *, form=None, status=200, **extra):
    context = {
        "keys": _visible_keys(request),
        "form": form or ApiKeyForm(),
        "roll_form": RollKeyForm(),
        **extra,
    }
    return render(request, "accounts/keys.html", context, status=status)


@require_GET
@team_required
def key_list(request):
    return _render_keys(request)


@never_cache
@require_POST
@team_required
def key_create(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _render_keys(request, form=form, status=400)
    api_key, raw_key = create_api_key(
        team=request.team,
        created_by=request.user,
        name=form.cleaned_data["name"],
        expires_at=form.expires_at,
        allowed_models=form.cleaned_data["allowed_models"],
        monthly_credit_limit=form.cleaned_data["monthly_credit_limit"],
        scopes=form.cleaned_data["scopes"],
        require_end_user=form.cleaned_data["require_end_user"],
        rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
    )
    return _render_keys(request, new_key=api_key, raw_key=raw_key)


@never_cache
@require_POST
@team_required
def key_roll(request, pk: int):
    """A successor shown once, like a new key; the old one works for the grace chosen."""
    api_key = _get_key_for_member(request, pk)
    form = RollKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the old key keeps working.")
        return redirect("keys", request.team.slug)
    try:
        successor, raw_key = roll_api_key(api_key=api_key, grace=form.grace_period)
    except KeyRefused as error:
        messages.error(request, str(error))
        return redirect("keys", request.team.slug)
    return _render_keys(request, new_key=successor, raw_key=raw_key, rolled_from=api_key)


@require_POST
@team_required
def key_revoke(request, pk: int):
    api_key = _get_key_for_member(request, pk)
    revoked_now = revoke_api_key(api_key=api_key, revoked_by=request.user)
    if request.htmx:
        return render(request, "accounts/keys.html#key-row", {"key": api_key})
    if revoked_now:
        messages.success(request, f"Key “{api_key.name}” revoked. Calls with it now get 401.")
    else:
        messages.info(request, f"Key “{api_key.name}” was already revoked.")
    return redirect("keys", request.team.slug)
