"""Managing endpoints: secrets, events, URL rules, the count limit, and the team flag the
pipeline reads."""

import pytest

from webhooks import endpoints
from webhooks.models import WebhookEndpoint


def create(person, url="https://hooks.example.com/pixdash", events=("task.completed",)):
    return endpoints.create_endpoint(
        team=person.team, url=url, events=list(events), created_by=person.user
    )


def test_an_endpoint_gets_its_own_secret_and_turns_the_team_flag_on(alice):
    first, second = create(alice), create(alice)

    assert first.secret.startswith("whsec_") and first.secret != second.secret
    alice.team.refresh_from_db()
    assert alice.team.has_webhook_endpoints is True


def test_the_flag_follows_enabling_disabling_and_deleting(alice):
    endpoint = create(alice)

    endpoints.set_enabled(endpoint=endpoint, enabled=False)
    alice.team.refresh_from_db()
    assert alice.team.has_webhook_endpoints is False

    endpoints.set_enabled(endpoint=endpoint, enabled=True)
    alice.team.refresh_from_db()
    assert alice.team.has_webhook_endpoints is True

    endpoints.delete_endpoint(endpoint=endpoint)
    alice.team.refresh_from_db()
    assert alice.team.has_webhook_endpoints is False
    assert not WebhookEndpoint.objects.exists()


def test_another_teams_flag_is_untouched(alice, charlie):
    create(alice)

    charlie.team.refresh_from_db()
    assert charlie.team.has_webhook_endpoints is False


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/", "https://10.0.0.2/", "ftp://x.example.com/", ""]
)
def test_urls_we_would_never_call_are_refused(alice, url):
    with pytest.raises(endpoints.EndpointRefused):
        create(alice, url=url)


@pytest.mark.parametrize("events", [(), ("task.exploded",), ("task.failed", "task.nope")])
def test_events_must_be_known_and_chosen(alice, events):
    with pytest.raises(endpoints.EndpointRefused):
        create(alice, events=events)


def test_a_team_has_at_most_20_endpoints(alice):
    for _ in range(endpoints.MAX_ENDPOINTS):
        create(alice)

    with pytest.raises(endpoints.EndpointRefused):
        create(alice)


def test_the_default_secret_is_made_once_per_team(alice, charlie):
    secret = endpoints.default_secret(alice.team)

    assert secret.startswith("whsec_")
    assert endpoints.default_secret(alice.team) == secret
    assert endpoints.default_secret(charlie.team) != secret
