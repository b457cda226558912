"""The activity log: every generation of the team, browser and API, with its status, key
or member, model, time, images and credits; filtered by key, status and source. Owners
and admins see the team's; members their own jobs and their own keys' calls."""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from generator import activity
from generator.forms import ActivityFilterForm
from generator.views.common import as_int
from pixdash.accounts.access import team_required
from pixdash.accounts.models import ApiKey


@require_GET
@team_required
def activity_page(request):
    member = None if request.membership.is_manager else request.user
    keys = ApiKey.objects.filter(team=request.team).order_by("name")
    if member is not None:
        keys = keys.filter(created_by=member)
    form = ActivityFilterForm(request.GET, keys=keys)
    filters = activity.Filters()
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        filters = activity.Filters(**data)
    after = as_int(request.GET.get("after")) or None
    rows, cursor = activity.page(request.team, filters, member=member, after=after)
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "rows": rows,
        "cursor": cursor,
        "query": query.urlencode(),
        "filtered": filters != activity.Filters(),
        "paged": after is not None,
        "whole_team": member is None,
        "page_url": reverse("activity", args=[request.team.slug]),
    }
    return render(request, "generator/activity.html", context)
