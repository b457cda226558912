"""Managing a team's webhook endpoints and its default secret: the only writer of both,
and of the team's ``has_webhook_endpoints`` flag, which lets the pipeline skip webhooks for
a team without endpoints at no cost (it is read from the team row already in hand)."""

from django.db import IntegrityError, transaction

from pixdash.accounts.models import Team, User
from pixdash.core import outbound
from webhooks import signing
from webhooks.models import TASK_EVENTS, DefaultSecret, WebhookEndpoint

MAX_ENDPOINTS = 20


class EndpointRefused(Exception):
    """The message is fit to show to the user; ``field`` names the form field at fault."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def check_events(events: list[str]) -> list[str]:
    chosen = [event for event in TASK_EVENTS if event in events]
    if not chosen or len(chosen) != len(set(events)):
        raise EndpointRefused(f"Choose one or more of: {', '.join(TASK_EVENTS)}.", field="events")
    return chosen


def create_endpoint(
    *, team: Team, url: str, events: list[str], description: str = "", created_by: User | None
) -> WebhookEndpoint:
    """A new, enabled endpoint with its own secret (the caller shows it once)."""
    try:
        outbound.check_url(url)
    except outbound.UnsafeUrl as error:
        raise EndpointRefused(error.message, field="url") from None
    events = check_events(events)
    with transaction.atomic():
        # Locks the team row, so two creations cannot both pass the count.
        Team.objects.select_for_update().filter(pk=team.pk).first()
        if WebhookEndpoint.objects.filter(team=team).count() >= MAX_ENDPOINTS:
            raise EndpointRefused(f"A team can have at most {MAX_ENDPOINTS} endpoints.")
        endpoint = WebhookEndpoint.objects.create(
            team=team,
            url=url,
            events=events,
            description=description.strip(),
            secret=signing.new_secret(),
            created_by=created_by,
        )
        _sync_team_flag(team)
    return endpoint


def set_enabled(*, endpoint: WebhookEndpoint, enabled: bool) -> None:
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=enabled)
        endpoint.enabled = enabled
        _sync_team_flag(endpoint.team)


def delete_endpoint(*, endpoint: WebhookEndpoint) -> None:
    """Its deliveries (and their log) go with it."""
    with transaction.atomic():
        team = endpoint.team
        endpoint.delete()
        _sync_team_flag(team)


def _sync_team_flag(team: Team) -> None:
    active = WebhookEndpoint.objects.filter(team=team, enabled=True).exists()
    Team.objects.filter(pk=team.pk).update(has_webhook_endpoints=active)
    team.has_webhook_endpoints = active


def default_secret(team: Team | int) -> str:
    """The team's secret for callback_url deliveries, made on first use."""
    team_id = team if isinstance(team, int) else team.pk
    found = DefaultSecret.objects.filter(team_id=team_id).values_list("secret", flat=True).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return DefaultSecret.objects.create(team_id=team_id, secret=signing.new_secret()).secret
    except IntegrityError:  # made by a concurrent first use
        return DefaultSecret.objects.get(team_id=team_id).secret
