"""The scale-out install, end to end: two machines' worth of processes on PostgreSQL +
Redis + an S3 server, driven through both web processes with the openai SDK while a
worker is SIGKILLed.

    machine A: web (gunicorn, deploy/gunicorn.conf.py) + worker + beat, metrics dir A
    machine B: web (gunicorn)                           + worker,        metrics dir B
    shared:    PostgreSQL, Redis (broker, cache), moto's S3 server, bench/fake_upstream.py

100 async and 50 sync generations, some blocked by the upstream's safety filter and some
with one of two images failing, go through both web processes at once; worker B is
killed mid-run and replaced, as systemd would. Then: every job ended exactly once, every
delivered image is fetched from the bucket through its presigned URL, the ledger
invariants hold, /readyz is green on both machines, and /metrics added up over the two
machines agrees with the ledger on images delivered and credits charged.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest
from django.conf import settings
from django.db.models import F, Sum
from django.utils import timezone
from openai import OpenAI

from billing import ledger
from generator.models import Generation, OutputImage, Status
from tests.e2e.conftest import ROOT, Process, _spawn, _wait_for, child_env, start_worker
from tests.ledger_audit import assert_ledger_invariants
from tests.prometheus import total
from tests.s3 import free_port

pytestmark = [
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql"
        or not settings.CELERY_BROKER_URL.startswith("redis://"),
        reason="the scale-out topology is PostgreSQL + Redis (set DATABASE_URL and "
        "CELERY_BROKER_URL; CI's second run does)",
    ),
    pytest.mark.timeout(280),
]

KEY = "scale-out-upstream-key"
TOKEN = "scale-out-metrics-token"
ASYNC_JOBS, SYNC_JOBS = 100, 50
PNG = b"\x89PNG\r\n\x1a\n"


def _upstream(tmp: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    args = [sys.executable, "bench/fake_upstream.py", "--port", str(port), "--key", KEY]
    args += ["--gemini-scale", "0.1", "--latency", "0.15", "--jitter", "0.3"]
    with open(tmp / "upstream.log", "wb") as log:
        process = subprocess.Popen(
            args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return f"http://127.0.0.1:{port}", process


def _start_gunicorn(tmp: Path, name: str, env: dict) -> Process:
    """The production web command, one uvicorn process per "machine"."""
    port = free_port()
    process = _spawn(
        name,
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
        + ["pixdash.asgi:application"],
        child_env(**env, PIXDASH_PORT=str(port), PIXDASH_WEB_PROCESSES="1"),
        tmp,
    )
    process.extra["url"] = f"http://127.0.0.1:{port}"
    return process


def _alive(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _prompt(kind: str, i: int) -> tuple[str, int]:
    """Every 10th job is blocked by the safety filter; every 5th asks for two images of
    which the upstream fails one. Prompts are unique: the fake counts per prompt."""
    if i % 10 == 3:
        return f"{kind} {i}: a forbidden thing [[block]]", 1
    if i % 5 == 1:
        return f"{kind} {i}: two boats [[fail-every=2]]", 2
    return f"{kind} {i}: a lighthouse", 1 + i % 2


def _idempotent(kind: str, i: int) -> dict:
    """The SDK retries connection errors; with a key, a retried POST replays, never runs
    twice."""
    return {"Idempotency-Key": f"scale-out-{kind}-{i}"}


def _sync_one(client: OpenAI, i: int) -> list[str]:
    prompt, n = _prompt("sync", i)
    try:
        result = client.images.generate(
            model="nano-banana", prompt=prompt, n=n, extra_headers=_idempotent("sync", i)
        )
    except openai.UnprocessableEntityError:
        return []
    return [item.url for item in result.data]


def _async_one(client: OpenAI, i: int) -> str:
    prompt, n = _prompt("async", i)
    body = {"model": "nano-banana", "prompt": prompt, "n": n}
    task = client.post(
        "/async/images/generations",
        body=body,
        cast_to=object,
        options={"headers": _idempotent("async", i)},
    )
    return task["id"]


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def _scrape(url: str) -> str:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text


def _json_lines(process: Process) -> list[dict]:
    lines = []
    for line in process.log().splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):  # a killed process's last line may be cut
                lines.append(json.loads(line))
    return lines


def test_a_scaled_out_install_survives_a_killed_worker_and_its_numbers_add_up(
    transactional_db, e2e_tmp, moto_s3, alice, alice_key
):
    started = time.monotonic()
    tmp = e2e_tmp / f"scale-out-{time.monotonic_ns()}"
    tmp.mkdir()
    upstream, upstream_process = _upstream(tmp)
    bucket = moto_s3.create_bucket()
    shared = {
        **moto_s3.env(bucket),
        "PIXDASH_GEMINI_BASE_URL": upstream,
        "PIXDASH_GEMINI_API_KEY": KEY,
        "PIXDASH_DEMO_MODE": "0",
        "PIXDASH_PROVIDER_DEADLINE": "20",
        "PIXDASH_METRICS_TOKEN": TOKEN,
        "PIXDASH_LOG_FORMAT": "json",
        "PIXDASH_API_RATE_LIMIT": "100000",
        "PIXDASH_TEAM_MAX_JOBS_IN_FLIGHT": "100000",  # one team drives the whole load
        # Short limits so the killed worker's jobs are redelivered within seconds: the
        # claim's lease (13 s) runs out before Redis hands the message out again (15 s).
        "PIXDASH_JOB_TIME_LIMIT": "8",
        "PIXDASH_BROKER_VISIBILITY_TIMEOUT": "15",
        "PIXDASH_BROKER_RESTORE_INTERVAL": "1",
        "PIXDASH_RETENTION_INTERVAL": "10",
    }
    machine_a = {**shared, "PIXDASH_METRICS_DIR": str(tmp / "metrics-a")}
    machine_b = {**shared, "PIXDASH_METRICS_DIR": str(tmp / "metrics-b")}
    ledger.credit(team=alice.team, amount=Decimal("2000"), reason="scale-out test")
    balance_before = ledger.balance(alice.team)

    processes: list[Process] = []
    clients: list[OpenAI] = []
    try:
        web_a = _start_gunicorn(tmp, "web-a", machine_a)
        web_b = _start_gunicorn(tmp, "web-b", machine_b)
        beat = _spawn(
            "beat",
            [sys.executable, "-m", "celery", "-A", "pixdash", "beat", "--loglevel", "INFO"]
            + ["--schedule", str(tmp / "celerybeat-schedule")],
            child_env(**machine_a),
            tmp,
        )
        processes += [web_a, web_b, beat]
        worker_a = start_worker(tmp, **machine_a)
        worker_b = start_worker(tmp, **machine_b)
        processes += [worker_a, worker_b]
        for web in (web_a, web_b):
            _wait_for(lambda web=web: _alive(web.extra["url"]), "gunicorn", web)
        urls = [web_a.extra["url"], web_b.extra["url"]]
        clients += [
            OpenAI(base_url=f"{url}/v1", api_key=alice_key.raw, max_retries=2, timeout=120)
            for url in urls
        ]

        with ThreadPoolExecutor(max_workers=12) as pool:
            task_ids = list(pool.map(lambda i: _async_one(clients[i % 2], i), range(ASYNC_JOBS)))
            sync_results = [pool.submit(_sync_one, clients[i % 2], i) for i in range(SYNC_JOBS)]
            # Mid-run: worker B holds jobs while more wait in the queue.
            _wait_until(
                lambda: (
                    Generation.objects.filter(is_async=True, status=Status.COMPLETED).count() >= 20
                ),
                60,
                "the first async jobs",
            )
            assert Generation.objects.filter(is_async=True, status=Status.SUBMITTED).exists()
            killed_at = timezone.now()
            os.killpg(worker_b.popen.pid, signal.SIGKILL)
            worker_b.popen.wait(10)
            replacement = start_worker(tmp, **machine_b)  # what systemd would do
            processes.append(replacement)
            sync_urls = [url for future in sync_results for url in future.result()]

        unfinished = Generation.objects.filter(status__in=[Status.SUBMITTED, Status.PROCESSING])
        _wait_until(lambda: not unfinished.exists(), 120, "every job to finish")

        # Every job ended exactly once: one hold and one release each, charges equal to
        # delivered images times price, stored images equal to charged ones.
        generations = Generation.objects.all()
        assert generations.count() == ASYNC_JOBS + SYNC_JOBS
        assert_ledger_invariants()
        outcomes = {
            "failed": generations.filter(status=Status.FAILED).count(),
            "partial": generations.filter(
                status=Status.COMPLETED, images_delivered__lt=F("n")
            ).count(),
        }
        assert outcomes["failed"] >= 10 and outcomes["partial"] >= 10, outcomes
        redelivered = generations.filter(attempts__gt=1).count()
        assert redelivered, "the killed worker held no job"

        # Every delivered image comes from the bucket through its presigned URL.
        async_urls = []
        for i, task_id in enumerate(task_ids):
            task = clients[i % 2].get(f"/tasks/{task_id}", cast_to=object)
            assert task["status"] in ("completed", "failed"), task
            if task["status"] == "completed":
                async_urls += [item["url"] for item in task["result"]["data"]]
        delivered = generations.aggregate(images=Sum("images_delivered"))["images"]
        assert len(sync_urls) + len(async_urls) == delivered == OutputImage.objects.count()
        with httpx.Client(timeout=30) as http:
            for url in sync_urls + async_urls:
                assert url.startswith(f"{moto_s3.url}/{bucket}/"), url
                response = http.get(url)
                assert response.status_code == 200 and response.content.startswith(PNG)
        stored = set(OutputImage.objects.values_list("file", flat=True))
        keys = moto_s3.keys(bucket)
        assert stored <= keys

        for url in urls:
            ready = httpx.get(f"{url}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text

        # /metrics of the two machines, added up, agrees with the ledger. One gap is
        # inherent: a worker SIGKILLed after its settlement committed but before it counted
        # (the commit's round trip) leaves that generation settled and uncounted. Such a
        # generation finished before the kill and is missing from every process's
        # generation_finished log lines, written right after counting; anything else
        # missing there is a real loss.
        pages = [_scrape(url) for url in urls]
        charged = generations.aggregate(credits=Sum("credits_charged"))["credits"]
        assert balance_before - ledger.balance(alice.team) == charged
        logged = {
            line["generation"]
            for process in (web_a, web_b, worker_a, worker_b, replacement)
            for line in _json_lines(process)
            if line.get("event") == "generation_finished"
        }
        cut_off = [g for g in generations if f"gen_{g.public_id}" not in logged]
        assert all(g.finished_at <= killed_at for g in cut_off), cut_off
        assert len(cut_off) <= 4  # at most the killed worker's threads
        metric_images = sum(total(p, "pixdash_images_delivered_total") for p in pages)
        metric_credits = sum(total(p, "pixdash_credits_charged_total") for p in pages)
        metric_jobs = sum(total(p, "pixdash_generations_total") for p in pages)
        assert metric_images == delivered - sum(g.images_delivered for g in cut_off)
        uncounted_credits = sum(g.credits_charged for g in cut_off)
        assert abs(metric_credits - float(charged - uncounted_credits)) < 1e-6
        assert metric_jobs == ASYNC_JOBS + SYNC_JOBS - len(cut_off)
        api_posts = sum(total(p, "pixdash_api_requests_total", method="POST") for p in pages)
        assert api_posts >= ASYNC_JOBS + SYNC_JOBS  # a retried POST counts again
        assert all(total(p, "pixdash_api_requests_total") > 0 for p in pages)  # both served

        # Beat runs on its own and the workers run what it sends.
        workers = [worker_a, replacement]
        _wait_until(
            lambda: any(
                line.get("event") == "retention" for w in workers for line in _json_lines(w)
            ),
            30,
            "a retention run sent by beat",
        )
        assert "beat: Starting" in beat.log()
        # JSON logs: one line per API request, with its request id and key prefix.
        api_lines = [
            line
            for web in (web_a, web_b)
            for line in _json_lines(web)
            if line.get("event") == "api_request"
        ]
        assert len(api_lines) >= ASYNC_JOBS + SYNC_JOBS
        assert all(line["request_id"].startswith("req_") for line in api_lines)
        assert {line["key_prefix"] for line in api_lines} == {alice_key.api_key.prefix}
        for process in processes:
            assert alice_key.raw not in process.log()
    finally:
        for client in clients:
            client.close()
        for process in processes:
            process.stop()
        upstream_process.terminate()
        upstream_process.wait(10)
    # Files a killed run had stored before it died stay in the bucket unreferenced.
    orphans = len(keys) - 2 * len(stored)
    print(
        f"scale-out: {time.monotonic() - started:.1f} s, {delivered} images, {charged} credits, "
        f"{outcomes}, {redelivered} redelivered, {orphans} orphan files, "
        f"{len(cut_off)} settled but cut off before counting"
    )
