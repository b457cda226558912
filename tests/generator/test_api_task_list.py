"""GET /v1/tasks: the team's tasks newest first, keyset-paged, filtered."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from generator import jobs
from generator.models import Generation, Source, Status
from tests.generator.conftest import assert_error

pytestmark = pytest.mark.usefixtures("audit_ledger")


def submit(person, key, *, model="nano-banana", prompt="a fox", **spec) -> Generation:
    return jobs.submit(
        team=person.team,
        spec=jobs.GenerationSpec(model=model, prompt=prompt, **spec),
        source=Source.API,
        is_async=True,
        api_key=key.api_key,
    ).generation


def list_tasks(client, key, **params):
    return client.get("/v1/tasks", params, headers=key.headers)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [task["id"] for task in response.json()["data"]]


def test_it_lists_the_teams_tasks_newest_first(client, alice, alice_key, fake_gemini, ui_queue):
    made = [submit(alice, alice_key, prompt=f"fox {i}") for i in range(3)]

    response = list_tasks(client, alice_key)

    body = response.json()
    assert body["object"] == "list"
    assert ids(response) == [f"task_{g.public_id}" for g in reversed(made)]
    assert body["has_more"] is False
    assert body["first_id"] == f"task_{made[-1].public_id}"
    assert body["last_id"] == f"task_{made[0].public_id}"
    newest = client.get(f"/v1/tasks/{body['first_id']}", headers=alice_key.headers)
    assert body["data"][0] == newest.json()  # the same task object as polling gives


def test_pages_follow_after_and_limit_without_gaps_or_repeats(
    client, alice, alice_key, fake_gemini, ui_queue
):
    made = [submit(alice, alice_key, prompt=f"fox {i}") for i in range(5)]
    # Two tasks created in the same microsecond still page apart: the id breaks the tie.
    Generation.objects.filter(pk__in=[made[1].pk, made[2].pk]).update(created_at=made[1].created_at)

    seen, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        body = list_tasks(client, alice_key, **params).json()
        seen += [task["id"] for task in body["data"]]
        if not body["has_more"]:
            break
        after = body["last_id"]

    assert sorted(seen) == sorted(f"task_{g.public_id}" for g in made)
    assert len(seen) == len(set(seen)) == 5


def test_it_filters_by_status_model_and_creation_time(
    client, alice, alice_key, fake_gemini, ui_queue
):
    old = submit(alice, alice_key, model="nano-banana-pro")
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    done = submit(alice, alice_key)
    jobs.run(generation_id=done.pk)
    waiting = submit(alice, alice_key, model="gemini-2.5-flash-image")
    yesterday = int((timezone.now() - timedelta(days=1)).timestamp())

    assert ids(list_tasks(client, alice_key, status="completed")) == [f"task_{done.public_id}"]
    assert set(ids(list_tasks(client, alice_key, model="nano-banana"))) == {
        f"task_{done.public_id}",
        f"task_{waiting.public_id}",
    }
    assert ids(list_tasks(client, alice_key, model="gemini-3-pro-image-preview")) == [
        f"task_{old.public_id}"
    ]
    assert ids(list_tasks(client, alice_key, created_before=yesterday)) == [f"task_{old.public_id}"]
    assert len(ids(list_tasks(client, alice_key, created_after=yesterday))) == 2


def test_a_failed_task_lists_with_its_error(client, alice, alice_key, fake_gemini, ui_queue):
    failed = submit(alice, alice_key)
    jobs.abandon(generation_id=failed.pk, message="gave up")

    (task,) = list_tasks(client, alice_key, status="failed").json()["data"]

    assert task["status"] == Status.FAILED
    assert task["error"]["code"] == "model_unavailable"
    assert task["usage"] == {"images": 0, "credits": "0.00"}


def test_b64_json_results_are_listed_as_signed_urls(
    client, alice, alice_key, fake_gemini, ui_queue
):
    generation = submit(alice, alice_key, response_format="b64_json")
    jobs.run(generation_id=generation.pk)

    (task,) = list_tasks(client, alice_key).json()["data"]

    (image,) = task["result"]["data"]
    assert image["url"].startswith("http://testserver/media/signed/")
    assert "b64_json" not in image


def test_another_teams_tasks_are_not_listed(
    client, alice, alice_key, charlie, charlie_key, fake_gemini, ui_queue
):
    submit(alice, alice_key)
    theirs = submit(charlie, charlie_key)

    assert ids(list_tasks(client, charlie_key)) == [f"task_{theirs.public_id}"]


def test_another_teams_task_is_no_cursor(
    client, alice, alice_key, charlie_key, fake_gemini, ui_queue
):
    alices = submit(alice, alice_key)

    response = list_tasks(client, charlie_key, after=f"task_{alices.public_id}")

    assert_error(response, 400, "invalid_request_error", "after")


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "done"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "-1"}, "created_before"),
        ({"created_before": "9" * 30}, "created_before"),
        ({"after": "task_nope"}, "after"),
    ],
)
def test_bad_parameters_are_400s_naming_them(client, alice_key, params, param):
    assert_error(list_tasks(client, alice_key, **params), 400, "invalid_request_error", param)


def test_listing_needs_a_key(client, db):
    assert_error(client.get("/v1/tasks"), 401, "invalid_api_key")


def test_posting_to_the_list_is_a_405(client, alice_key):
    response = client.post(
        "/v1/tasks",
        data=json.dumps({}),
        content_type="application/json",
        headers=alice_key.headers,
    )
    assert_error(response, 405, "method_not_allowed")
