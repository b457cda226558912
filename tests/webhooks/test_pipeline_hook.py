"""Where the pipeline tells webhooks a job finished (generator/jobs/events.py): only jobs
with a callback_url or of a team with endpoints are announced, after the commit; the
others cost nothing, not one query."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generator import jobs
from generator.models import Generation, Source
from tests.generator.conftest import assert_error, post_generation


def sync_generation(person, key):
    spec = jobs.GenerationSpec(model="nano-banana", prompt="a fox")
    submission = jobs.submit(
        team=person.team, spec=spec, source=Source.API, is_async=False, api_key=key.api_key
    )
    return async_to_sync(jobs.run_now)(submission).generation


def test_a_sync_job_of_a_team_without_endpoints_costs_no_webhook_query(
    alice, alice_key, queued, committed, fake_gemini
):
    with committed(), CaptureQueriesContext(connection) as queries:
        generation = sync_generation(alice, alice_key)

    assert generation.announce is False
    assert queued.announcements == []
    assert not [q["sql"] for q in queries if "webhook" in q["sql"]]


def test_a_sync_job_of_a_team_with_an_endpoint_is_announced_after_commit(
    alice, alice_key, queued, committed, fake_gemini, make_endpoint
):
    make_endpoint(alice)
    alice_key.api_key.team.refresh_from_db()  # the key's team row, as authentication loads it

    with committed():
        generation = sync_generation(alice, alice_key)

    assert generation.announce is True
    assert queued.announcements == [generation.pk]


def test_an_async_job_with_a_callback_is_announced_when_it_finishes(
    alice, alice_key, queued, submit_job, receiver
):
    generation = submit_job(alice, key=alice_key, callback_url=receiver.url(), run=False)
    assert queued.announcements == []

    with_callback = submit_job(alice, key=alice_key, callback_url=receiver.url())

    assert with_callback.callback_url == receiver.url()
    assert queued.announcements == [with_callback.pk]
    assert generation.announce is True


def test_an_async_job_without_callback_or_endpoints_is_not_announced(
    alice, alice_key, queued, submit_job
):
    submit_job(alice, key=alice_key)

    assert queued.announcements == []


def test_a_broker_down_at_announcement_does_not_break_the_finished_job(
    alice, alice_key, queued, submit_job, receiver, monkeypatch
):
    from webhooks import tasks

    def down(**_):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.announce_task, "apply_async", down)

    generation = submit_job(alice, key=alice_key, callback_url=receiver.url())

    assert generation.status == "completed"


def test_the_api_takes_a_callback_url_and_keeps_it(client, alice, alice_key, queued, receiver):
    body = {"model": "nano-banana", "prompt": "a fox", "callback_url": receiver.url("/cb")}

    response = post_generation(client, alice_key, body, path="/v1/async/images/generations")

    assert response.status_code == 202, response.content
    assert Generation.objects.get().callback_url == receiver.url("/cb")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/cb",
        "https://127.0.0.1/cb",
        "https://169.254.169.254/latest",
        "https://user:pw@hooks.example.com/",
        "not a url",
    ],
)
def test_a_callback_url_we_would_never_call_is_a_400(client, alice, alice_key, queued, url):
    body = {"model": "nano-banana", "prompt": "a fox", "callback_url": url}

    response = client.post(
        "/v1/async/images/generations",
        json.dumps(body),
        "application/json",
        headers=alice_key.headers,
    )

    assert_error(response, 400, "invalid_request_error", "callback_url")
    assert not Generation.objects.exists()
