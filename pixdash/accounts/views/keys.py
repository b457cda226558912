"""API keys page. Members see, rename, roll and revoke the keys they created; owners and
admins, all of the team's keys. A new (or rolled) key's secret is shown once, on the page
the creation redirects to (see once.py), so a reload creates nothing."""

from django.contrib import messages
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from pixdash.accounts import once
from pixdash.accounts.access import team_required
from pixdash.accounts.forms import ApiKeyForm, KeyNameForm, RollKeyForm
from pixdash.accounts.keys import (
    KeyRefused,
    create_api_key,
    rename_api_key,
    revoke_api_key,
    roll_api_key,
)
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


def _catalog() -> list[tuple[str, str]]:
    # The keys page offers the catalog's models by name: a key limited to a misspelt id
    # would be refused every model. (The only place accounts reads the catalog.)
    from generator import catalog

    return [(m.public_id, m.display_name) for m in catalog.enabled_models()]


def _render_keys(request, *, form=None, status=200, **extra):
    models = _catalog()
    context = {
        "keys": _visible_keys(request),
        "form": form or ApiKeyForm(models=models),
        "model_names": dict(models),
        "roll_form": RollKeyForm(),
        **extra,
    }
    return render(request, "accounts/keys.html", context, status=status)


@never_cache
@require_GET
@team_required
def key_list(request):
    new = once.take(request, "api_key")
    extra = {}
    if new is not None:
        raw_key, pk = new
        new_key = _visible_keys(request).select_related("rolled_from").filter(pk=pk).first()
        extra = {"raw_key": raw_key, "new_key": new_key}
        if new_key is not None and new_key.rolled_from_id:
            extra["rolled_from"] = new_key.rolled_from
    response = _render_keys(request, **extra)
    once.clear(response, "api_key")
    return response


@never_cache
@require_POST
@team_required
def key_create(request):
    form = ApiKeyForm(request.POST, models=_catalog())
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
    return _show_once(request, api_key, raw_key)


def _show_once(request, api_key: ApiKey, raw_key: str):
    """To the keys page, which shows the secret once: a reload creates no second key."""
    response = redirect("keys", request.team.slug)
    once.stash(request, response, "api_key", raw_key, about=api_key.pk)
    return response


@require_POST
@team_required
def key_rename(request, pk: int):
    api_key = _get_key_for_member(request, pk)
    form = KeyNameForm(request.POST)
    if form.is_valid():
        rename_api_key(api_key=api_key, name=form.cleaned_data["name"])
        messages.success(request, f"Key renamed to “{api_key.name}”.")
    else:
        messages.error(request, " ".join(form.errors["name"]))
    return redirect("keys", request.team.slug)


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
    return _show_once(request, successor, raw_key)


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
