"""The Webhooks page: a team's endpoints (secret shown once), the delivery log with status
and response time, "send a test event" and "redeliver". Every member sees the page;
owners and admins change it. Queries filter on ``request.team``: other teams' ids 404."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from pixdash.accounts.access import team_required
from webhooks import deliveries, endpoints, tasks
from webhooks.forms import EndpointForm
from webhooks.models import TASK_EVENTS, WebhookDelivery, WebhookEndpoint

LOG_SIZE = 50


def _render(request, *, form=None, status=200, **extra):
    team = request.team
    context = {
        "endpoints": WebhookEndpoint.objects.filter(team=team),
        "log": WebhookDelivery.objects.filter(team=team)
        .select_related("event", "endpoint")
        .order_by("-created_at", "-id")[:LOG_SIZE],
        "form": form or EndpointForm(),
        "task_events": TASK_EVENTS,
        **extra,
    }
    return render(request, "webhooks/webhooks.html", context, status=status)


def _endpoint(request, pk: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, team=request.team, pk=pk)


def _back(request):
    return redirect("webhooks", request.team.slug)


@require_GET
@team_required
def webhooks_page(request):
    return _render(request)


@never_cache
@require_POST
@team_required(manager=True)
def endpoint_create(request):
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _render(request, form=form, status=400)
    try:
        endpoint = endpoints.create_endpoint(
            team=request.team,
            url=form.cleaned_data["url"].strip(),
            events=form.cleaned_data["events"],
            description=form.cleaned_data["description"],
            created_by=request.user,
        )
    except endpoints.EndpointRefused as error:
        form.add_error(error.field, str(error))
        return _render(request, form=form, status=400)
    return _render(request, new_endpoint=endpoint)


@require_POST
@team_required(manager=True)
def endpoint_toggle(request, pk: int):
    endpoint = _endpoint(request, pk)
    endpoints.set_enabled(endpoint=endpoint, enabled=not endpoint.enabled)
    state = "enabled" if endpoint.enabled else "disabled: it gets no more events"
    messages.success(request, f"{endpoint.url} {state}.")
    return _back(request)


@require_POST
@team_required(manager=True)
def endpoint_test(request, pk: int):
    delivery = deliveries.send_test(endpoint=_endpoint(request, pk))
    tasks.send_after_commit(delivery.pk)
    messages.success(request, "Test event sent; its delivery shows in the log below.")
    return _back(request)


@require_POST
@team_required(manager=True)
def endpoint_delete(request, pk: int):
    endpoint = _endpoint(request, pk)
    endpoints.delete_endpoint(endpoint=endpoint)
    messages.success(request, f"{endpoint.url} deleted, with its delivery log.")
    return _back(request)


@require_POST
@team_required(manager=True)
def delivery_redeliver(request, pk: int):
    delivery = get_object_or_404(WebhookDelivery, team=request.team, pk=pk)
    deliveries.redeliver(delivery=delivery)
    tasks.send_after_commit(delivery.pk)
    messages.success(request, f"Redelivering {delivery.message_id}: same id, same body.")
    return _back(request)
