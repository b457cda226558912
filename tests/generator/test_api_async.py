"""POST /v1/async/images/generations and /edits, GET /v1/tasks/{id}.

The broker is replaced by a recorder (``queue``): these tests play the worker by calling
generator.jobs.run(generation_id=...) themselves, as generator.tasks.run_generation would.
The money invariants are checked after every test in this file.
"""

import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.exceptions import OperationalError

from billing import ledger
from generator import jobs
from generator.models import Generation, Status
from tests.generator.conftest import SAFETY_BLOCK, UPSTREAM_500, assert_error, png_bytes

GENERATIONS = "/v1/async/images/generations"
EDITS = "/v1/async/images/edits"

pytestmark = pytest.mark.usefixtures("audit_ledger")


@pytest.fixture
def queue(monkeypatch) -> list[int]:
    """The generation ids sent to the broker, in order; nothing reaches a real broker."""
    sent: list[int] = []

    def apply_async(args=None, kwargs=None, **options):
        sent.extend(args)

    monkeypatch.setattr("generator.tasks.run_generation.apply_async", apply_async)
    return sent


def submit(client, key, body=None, **headers):
    body = body or {"model": "nano-banana", "prompt": "a lighthouse at dusk"}
    return client.post(
        GENERATIONS,
        data=json.dumps(body),
        content_type="application/json",
        headers={**(key.headers if key else {}), **headers},
    )


def poll(client, key, task_id: str):
    return client.get(f"/v1/tasks/{task_id}", headers=key.headers)


def work(queue: list[int]) -> None:
    """Run every queued job once, as the Celery worker would."""
    while queue:
        jobs.run(generation_id=queue.pop(0))


# --- Submit --------------------------------------------------------------------------


def test_it_answers_202_with_a_submitted_task(client, alice, alice_key, fake_gemini, queue):
    response = submit(client, alice_key)

    assert response.status_code == 202, response.content
    assert response["X-Request-Id"].startswith("req_")
    task = response.json()
    assert set(task) == {"id", "object", "status", "progress", "created_at", "model"}
    assert task["id"].startswith("task_")
    assert task["object"] == "image.task"
    assert task["status"] == "submitted"
    assert task["progress"] == 0
    assert isinstance(task["created_at"], int)
    assert task["model"] == "nano-banana"  # as requested, alias and all
    generation = Generation.objects.get()
    assert task["id"] == f"task_{generation.public_id}"
    assert queue == [generation.pk]
    assert fake_gemini.calls == []  # nothing runs in the web request
    assert ledger.credits_on_hold(alice.team) == Decimal("2.00")


def test_a_completed_task_carries_its_result_and_usage(
    client, alice, alice_key, fake_gemini, queue
):
    task_id = submit(client, alice_key, {"model": "nano-banana", "prompt": "a fox", "n": 2}).json()[
        "id"
    ]
    work(queue)

    response = poll(client, alice_key, task_id)

    assert response.status_code == 200, response.content
    task = response.json()
    assert task["id"] == task_id
    assert task["status"] == "completed"
    assert task["progress"] == 100
    assert task["model"] == "nano-banana"
    assert task["usage"] == {"images": 2, "credits": "4.00"}
    result = task["result"]
    assert result["id"] == "gen_" + task_id.removeprefix("task_")
    assert result["model"] == "gemini-2.5-flash-image"
    assert result["usage"] == {"images": 2, "credits": "4.00"}
    assert len(result["data"]) == 2
    # The same shape as the sync images response.
    assert all(set(item) == {"url", "revised_prompt"} for item in result["data"])
    assert {"created", "data", "id", "model", "usage"} <= set(result)
    assert "error" not in task
    image = client.get(result["data"][0]["url"])
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert ledger.balance(alice.team) == Decimal("96.00")
    assert ledger.credits_on_hold(alice.team) == 0


def test_a_task_being_worked_on_shows_its_progress_and_no_usage(
    client, alice_key, fake_gemini, queue
):
    task_id = submit(client, alice_key).json()["id"]
    # Where a worker is mid-job: claimed, one image of two done.
    Generation.objects.filter(pk=queue[0]).update(status=Status.PROCESSING, progress=50)

    task = poll(client, alice_key, task_id).json()

    assert task["status"] == "processing"
    assert task["progress"] == 50
    assert set(task) == {"id", "object", "status", "progress", "created_at", "model"}


def test_a_rejected_prompt_fails_the_task_with_an_error_and_no_charge(
    client, alice, alice_key, fake_gemini, queue
):
    fake_gemini.script = lambda request: SAFETY_BLOCK
    task_id = submit(client, alice_key).json()["id"]
    work(queue)

    response = poll(client, alice_key, task_id)

    assert response.status_code == 200
    task = response.json()
    assert task["status"] == "failed"
    assert task["usage"] == {"images": 0, "credits": "0.00"}
    assert "result" not in task
    error = task["error"]
    assert set(error) == {"message", "type", "param", "code", "request_id"}
    assert error["code"] == "prompt_rejected"
    assert error["param"] is None
    assert error["request_id"] == response["X-Request-Id"]
    assert ledger.balance(alice.team) == Decimal("100.00")
    assert ledger.credits_on_hold(alice.team) == 0


def test_an_upstream_outage_is_retried_then_fails_with_no_charge(
    client, alice, alice_key, fake_gemini, queue, settings
):
    settings.PIXDASH_JOB_MAX_ATTEMPTS = 2
    fake_gemini.script = lambda request: UPSTREAM_500
    task_id = submit(client, alice_key).json()["id"]
    (generation_id,) = queue

    with pytest.raises(jobs.RetryLater):
        jobs.run(generation_id=generation_id)
    assert poll(client, alice_key, task_id).json()["status"] == "submitted"
    jobs.run(generation_id=generation_id)

    task = poll(client, alice_key, task_id).json()
    assert task["status"] == "failed"
    assert task["error"]["code"] == "model_unavailable"
    assert task["error"]["type"] == "server_error"
    assert task["usage"] == {"images": 0, "credits": "0.00"}
    assert len(fake_gemini.calls) == 2
    assert ledger.balance(alice.team) == Decimal("100.00")


def test_an_async_edit_runs_with_its_uploads(client, alice, alice_key, fake_gemini, queue):
    images = [SimpleUploadedFile(f"{i}.png", png_bytes(), "image/png") for i in range(2)]
    response = client.post(
        EDITS,
        data={"model": "nano-banana", "prompt": "merge them", "image[]": images},
        headers=alice_key.headers,
    )

    assert response.status_code == 202, response.content
    task = response.json()
    assert task["status"] == "submitted" and task["object"] == "image.task"
    work(queue)
    done = poll(client, alice_key, task["id"]).json()
    assert done["status"] == "completed"
    assert done["usage"] == {"images": 1, "credits": "2.00"}
    (call,) = fake_gemini.calls
    assert len(call.images) == 2


def test_an_async_edit_refuses_bad_uploads_before_queueing(
    client, alice, alice_key, fake_gemini, queue
):
    bad = SimpleUploadedFile("x.png", b"<html>not an image</html>", "image/png")
    response = client.post(
        EDITS,
        data={"model": "nano-banana", "prompt": "merge them", "image": bad},
        headers=alice_key.headers,
    )

    assert_error(response, 400, "invalid_request_error", "image")
    assert queue == []
    assert not Generation.objects.exists()


def test_validation_errors_are_the_same_as_sync(client, alice_key, fake_gemini, queue):
    response = submit(client, alice_key, {"model": "nano-banana", "prompt": "x", "n": 11})

    assert_error(response, 400, "invalid_request_error", "n")
    assert response["x-should-retry"] == "false"
    assert queue == []


def test_it_402s_without_queueing_when_credits_are_short(
    client, alice, alice_key, fake_gemini, queue
):
    ledger.adjust(team=alice.team, amount="-99.00", reason="leave one credit", actor=None)

    response = submit(client, alice_key)

    error = assert_error(response, 402, "insufficient_credits")
    assert error["message"] == "Not enough credits: 2.00 needed, 1.00 available."
    assert queue == []
    assert not Generation.objects.exists()


def test_an_idempotency_key_replays_the_same_task(client, alice, alice_key, fake_gemini, queue):
    first = submit(client, alice_key, **{"Idempotency-Key": "job-1"})
    second = submit(client, alice_key, **{"Idempotency-Key": "job-1"})

    assert first.status_code == 202
    assert second.status_code in (200, 202)
    assert first.json()["id"] == second.json()["id"]
    assert len(queue) == 1
    assert ledger.credits_on_hold(alice.team) == Decimal("2.00")


# --- Broker down ---------------------------------------------------------------------


def test_a_broker_outage_is_a_503_and_leaves_no_hold(
    client, alice, alice_key, fake_gemini, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("generator.tasks.run_generation.apply_async", broker_down)

    response = submit(client, alice_key)

    assert response.status_code == 503, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code", "request_id"}
    assert error["type"] == "server_error"
    assert error["code"] == "queue_unavailable"
    assert "nothing was charged" in error["message"]
    assert "6379" not in error["message"]  # the broker's address stays on the server
    assert response.get("x-should-retry") != "false"
    assert ledger.balance(alice.team) == Decimal("100.00")
    assert ledger.credits_on_hold(alice.team) == 0
    # No job is left for a worker or the sweeper: it is failed and settled already.
    assert not Generation.objects.exclude(status=Status.FAILED).exists()
    assert fake_gemini.calls == []


# --- Tasks: tenancy and unknown ids --------------------------------------------------


def test_another_teams_task_is_a_404(client, alice_key, charlie_key, fake_gemini, queue):
    task_id = submit(client, alice_key).json()["id"]
    work(queue)

    response = poll(client, charlie_key, task_id)

    error = assert_error(response, 404, "not_found", "task_id")
    assert response["x-should-retry"] == "false"
    assert "result" not in response.json()
    assert error["message"] == f"No task '{task_id}'."


def test_a_team_member_sees_the_teams_task(client, alice_key, bob_key, fake_gemini, queue):
    task_id = submit(client, alice_key).json()["id"]

    assert poll(client, bob_key, task_id).status_code == 200


@pytest.mark.parametrize("task_id", ["task_01J00000000000000000000000", "nope", "task_"])
def test_an_unknown_task_is_a_404(client, alice_key, task_id):
    response = poll(client, alice_key, task_id)

    assert_error(response, 404, "not_found", "task_id")


def test_a_generation_id_is_not_a_task_id_of_another_team(
    client, alice_key, charlie_key, fake_gemini, queue
):
    task_id = submit(client, alice_key).json()["id"]
    bare = task_id.removeprefix("task_")

    assert poll(client, alice_key, bare).status_code == 200
    assert poll(client, charlie_key, bare).status_code == 404


def test_polling_needs_a_key(client, alice_key, fake_gemini, queue):
    task_id = submit(client, alice_key).json()["id"]

    response = client.get(f"/v1/tasks/{task_id}")

    assert_error(response, 401, "invalid_api_key")


def test_posting_to_a_task_is_a_405(client, alice_key, fake_gemini, queue):
    task_id = submit(client, alice_key).json()["id"]

    response = client.post(f"/v1/tasks/{task_id}", headers=alice_key.headers)

    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"
