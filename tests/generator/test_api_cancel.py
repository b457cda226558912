"""POST /v1/tasks/{id}/cancel: the API face of jobs.cancel()."""

import asyncio
from decimal import Decimal

import pytest

from billing import ledger
from generator import jobs
from generator.jobs import deliver, render
from generator.models import Generation, Status
from tests.conftest import STARTING_CREDITS
from tests.generator.conftest import assert_error
from tests.generator.test_api_task_list import submit

pytestmark = pytest.mark.usefixtures("audit_ledger")


def cancel(client, key, task_id: str):
    return client.post(f"/v1/tasks/{task_id}/cancel", headers=key.headers)


def test_a_queued_task_is_canceled_at_once_and_costs_nothing(
    client, alice, alice_key, fake_gemini, ui_queue
):
    generation = submit(alice, alice_key, n=3)

    response = cancel(client, alice_key, f"task_{generation.public_id}")

    assert response.status_code == 200, response.content
    task = response.json()
    assert task["id"] == f"task_{generation.public_id}"
    assert task["status"] == "canceled"
    assert task["usage"] == {"images": 0, "credits": "0.00"}
    assert "result" not in task
    assert ledger.balance(alice.team) == STARTING_CREDITS
    jobs.run(generation_id=generation.pk)  # the queued message arrives anyway
    assert fake_gemini.calls == []
    polled = client.get(f"/v1/tasks/{task['id']}", headers=alice_key.headers).json()
    assert polled["status"] == "canceled"


def test_a_running_task_answers_as_far_as_it_got_and_then_ends_canceled(
    client, alice, alice_key, fake_gemini, ui_queue
):
    generation = submit(alice, alice_key, n=2)
    claimed = jobs._claim(generation.pk, queued=True)
    outcomes = asyncio.run(render.render(claimed, None))  # both images made, not delivered

    response = cancel(client, alice_key, f"task_{generation.public_id}")

    assert response.json()["status"] == "processing"  # asked to stop; finishing as it can
    deliver.deliver(claimed, outcomes)
    task = client.get(f"/v1/tasks/task_{generation.public_id}", headers=alice_key.headers).json()
    assert task["status"] == "canceled"
    assert task["usage"] == {"images": 2, "credits": "4.00"}  # delivered images are kept
    assert len(task["result"]["data"]) == 2
    assert ledger.balance(alice.team) == STARTING_CREDITS - Decimal("4")


def test_a_finished_task_is_a_409_the_sdk_does_not_retry(
    client, alice, alice_key, fake_gemini, ui_queue
):
    generation = submit(alice, alice_key)
    jobs.run(generation_id=generation.pk)

    response = cancel(client, alice_key, f"task_{generation.public_id}")

    assert_error(response, 409, "task_finished")
    assert response["x-should-retry"] == "false"
    assert Generation.objects.get().status == Status.COMPLETED


def test_canceling_twice_answers_the_same_canceled_task(
    client, alice, alice_key, fake_gemini, ui_queue
):
    task_id = f"task_{submit(alice, alice_key).public_id}"
    first = cancel(client, alice_key, task_id).json()

    assert cancel(client, alice_key, task_id).json() == first


def test_another_teams_task_is_a_404_and_keeps_running(
    client, alice, alice_key, charlie_key, fake_gemini, ui_queue
):
    generation = submit(alice, alice_key)

    response = cancel(client, charlie_key, f"task_{generation.public_id}")

    assert_error(response, 404, "not_found", "task_id")
    assert Generation.objects.get().status == Status.SUBMITTED


def test_an_unknown_task_is_a_404(client, alice_key):
    assert_error(cancel(client, alice_key, "task_nope"), 404, "not_found", "task_id")


def test_getting_the_cancel_url_is_a_405(client, alice, alice_key, fake_gemini, ui_queue):
    generation = submit(alice, alice_key)

    response = client.get(
        f"/v1/tasks/task_{generation.public_id}/cancel", headers=alice_key.headers
    )

    assert_error(response, 405, "method_not_allowed")
