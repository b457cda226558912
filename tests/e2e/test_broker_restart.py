"""The broker restarts: the worker keeps consuming, jobs whose messages died with it are
sent again from the database, and polling answers throughout.

Everything runs against a redis-server this test starts and kills itself (no
persistence, like a default install after a crash)."""

import time
from decimal import Decimal

import httpx
import pytest

from billing import ledger
from generator.models import Generation, Status
from tests.e2e.conftest import start_beat, start_web, start_worker
from tests.ledger_audit import assert_ledger_invariants

pytestmark = pytest.mark.usefixtures("small_renders")


def _wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _submit(api: str, key, prompt: str) -> str:
    response = httpx.post(
        f"{api}/async/images/generations",
        json={"model": "nano-banana", "prompt": prompt},
        headers=key.headers,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _status(task_id: str) -> str:
    return Generation.objects.get(public_id=task_id.removeprefix("task_")).status


def test_a_broker_restart_loses_no_job_and_keeps_the_worker_consuming(
    e2e_tmp,
    alice,
    alice_key,
    own_redis,
):
    env = {
        "CELERY_BROKER_URL": own_redis.url(),
        "PIXDASH_LOCAL_LATENCY_MS": "3000",
        "PIXDASH_DISPATCH_INTERVAL": "1",
        "PIXDASH_DISPATCH_GRACE": "2",
        "PIXDASH_DISPATCH_MAX_INTERVAL": "4",
    }
    web = start_web(e2e_tmp, **env)
    api = web.extra["url"] + "/v1"
    started = [web]
    try:
        # Queued while no worker runs, then Redis dies: these messages are gone.
        lost = [_submit(api, alice_key, f"lost in the queue {i}") for i in range(2)]
        own_redis.restart()
        worker = start_worker(e2e_tmp, **env)
        started += [worker, start_beat(e2e_tmp, **env)]

        # The worker holds an unacknowledged message (and is waiting for more) when the
        # broker dies under it.
        running = _submit(api, alice_key, "running when the broker died")
        _wait_until(lambda: _status(running) == Status.PROCESSING, 30, "the worker to start")
        own_redis.kill()

        poll = httpx.get(f"{api}/tasks/{lost[0]}", headers=alice_key.headers, timeout=10)
        assert poll.status_code == 200
        assert poll.json()["status"] in ("submitted", "processing")

        own_redis.start()
        after = _submit(api, alice_key, "sent after the broker came back")
        everything = [*lost, running, after]
        _wait_until(
            lambda: all(_status(t) == Status.COMPLETED for t in everything),
            60,
            "every job to complete within a minute of the broker's return",
        )
        assert worker.popen.poll() is None, worker.log()[-3000:]
    finally:
        for process in started:
            process.stop()

    assert "Unrecoverable error" not in worker.log()
    assert ledger.balance(alice.team) == Decimal("92.00")
    assert ledger.credits_on_hold(alice.team) == Decimal("0.00")
    assert_ledger_invariants()
