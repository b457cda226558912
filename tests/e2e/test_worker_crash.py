"""Workers die and brokers go away: the job still finishes once, or fails and releases."""

import os
import signal
import time
from decimal import Decimal

import httpx
import pytest
from django.conf import settings

from billing import ledger
from generator import jobs
from generator.models import Generation, OutputImage, Source, Status
from tests.e2e.conftest import start_web, start_worker
from tests.ledger_audit import assert_ledger_invariants

pytestmark = pytest.mark.usefixtures("small_renders")

redis_broker_only = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="redelivery after a crash needs an acknowledging broker (Redis); the "
    "file-system broker drops a message once taken, and the sweeper settles the job",
)


def _wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@redis_broker_only
def test_a_worker_killed_mid_task_is_redelivered_and_charges_once(e2e_tmp, alice, alice_key):
    # Short limits so the crashed claim's lease and Redis' visibility timeout run out in
    # seconds; the local renderer sleeps so the kill lands mid-task.
    slow = {
        "PIXDASH_LOCAL_LATENCY_MS": "3000",
        "PIXDASH_JOB_TIME_LIMIT": "5",
        "PIXDASH_BROKER_VISIBILITY_TIMEOUT": "12",
        "PIXDASH_BROKER_RESTORE_INTERVAL": "1",
    }
    first = start_worker(e2e_tmp, **slow)
    submission = jobs.submit(
        team=alice.team,
        spec=jobs.GenerationSpec(model="nano-banana", prompt="a crash test dummy", n=2),
        source=Source.API,
        is_async=True,
        api_key=alice_key.api_key,
    )
    generation = submission.generation
    _wait_until(
        lambda: Generation.objects.filter(pk=generation.pk, status=Status.PROCESSING).exists(),
        30,
        "the first worker to claim the job",
    )
    os.killpg(first.popen.pid, signal.SIGKILL)
    first.popen.wait(10)

    second = start_worker(e2e_tmp, **slow)
    try:
        _wait_until(lambda: Generation.objects.get(pk=generation.pk).is_finished, 90, "redelivery")
    finally:
        second.stop()

    generation.refresh_from_db()
    assert generation.status == Status.COMPLETED
    assert generation.attempts == 2
    assert generation.images_delivered == 2
    assert OutputImage.objects.filter(generation=generation).count() == 2
    assert ledger.balance(alice.team) == Decimal("96.00")
    assert_ledger_invariants()


def test_broker_down_at_submit_answers_503_and_keeps_no_hold(e2e_tmp, alice, alice_key):
    web = start_web(e2e_tmp, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    try:
        response = httpx.post(
            f"{web.extra['url']}/v1/async/images/generations",
            json={"model": "nano-banana", "prompt": "queued into the void"},
            headers=alice_key.headers,
            timeout=30,
        )
    finally:
        web.stop()

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "queue_unavailable"
    assert ledger.balance(alice.team) == Decimal("100.00")
    assert ledger.credits_on_hold(alice.team) == Decimal("0.00")
    assert not Generation.objects.exclude(status=Status.FAILED).exists()
    assert_ledger_invariants()
