"""The hot-path scenarios, each run in interleaved rounds (upstream direct, LiteLLM,
Pixdash) so that whatever else the machine does lands on all three alike.

(a) c=1, 64 px image: p50, added latency over direct, gateway CPU per request
(b) c=1, 1.5 MB image: p50, CPU per request
(c) 2 s upstream, 50/200/500/1,000 in flight: throughput as a fraction of ideal, errors,
    p50, PostgreSQL lock waiters, pool errors, peak memory per in-flight request (also with
    1.5 MB images), memory after the clients leave
(d) the async path with a real Celery worker: submit → completed p50 (0 ms upstream),
    throughput at 100 concurrent tasks (1 s upstream)
"""

import asyncio
import json
import re
import statistics
import time
from dataclasses import dataclass, field

import aiohttp
import psycopg

from bench import load, procstat
from bench.sampler import Sampler, settle
from bench.stack import LITELLM_KEY, MODEL, UPSTREAM_KEY, Service

SMALL = "[[px=64]]"
LARGE_BYTES = 1_500_000
LARGE = f"[[bytes={LARGE_BYTES}]]"
TIMEOUT = 30.0  # a call slower than this counts as an error ("timeout")
MB = 1024 * 1024


@dataclass
class Gateway:
    """One thing a client can call; ``tree`` is None for the upstream itself (its CPU is
    not a gateway's)."""

    name: str
    target: load.Target
    tree: procstat.Tree | None = None
    service: Service | None = None


@dataclass
class Context:
    gateways: list[Gateway]
    database_url: str
    database: str
    rounds: int
    quick: bool
    image_bytes: int = 0
    results: dict = field(default_factory=dict)

    def gateway(self, name: str) -> Gateway:
        return next(g for g in self.gateways if g.name == name)


def gateways(upstream: Service, litellm: Service | None, pixdash: Service, key: str) -> list:
    found = [
        Gateway(
            "direct",
            load.Target("direct", upstream.url + "/v1", UPSTREAM_KEY, MODEL, response_format=None),
        )
    ]
    if litellm is not None:
        found.append(
            Gateway(
                "litellm",
                load.Target("litellm", litellm.url + "/v1", LITELLM_KEY, MODEL),
                procstat.Tree(litellm.pid),
                litellm,
            )
        )
    found.append(
        Gateway(
            "pixdash",
            load.Target("pixdash", pixdash.url + "/v1", key, MODEL),
            procstat.Tree(pixdash.pid),
            pixdash,
        )
    )
    return found


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 4) if values else None


async def warm_up(ctx: Context) -> None:
    for gateway in ctx.gateways:
        outcome = await load.sequential(gateway.target, 10, markers=SMALL, tag="warm")
        outcome2 = await load.sequential(gateway.target, 3, markers=LARGE, tag="warm")
        if outcome.failed or outcome2.failed:
            raise RuntimeError(f"{gateway.name} fails its warm-up calls: {outcome.errors}")


# --- (a) and (b): one client ---------------------------------------------------------------


async def one_client(ctx: Context, key: str, markers: str, count: int) -> dict:
    per_round: dict[str, list[dict]] = {g.name: [] for g in ctx.gateways}
    for round_no in range(ctx.rounds):
        direct_p50 = None
        for gateway in ctx.gateways:
            if gateway.tree:
                await settle(gateway.tree)
            cpu = gateway.tree.cpu() if gateway.tree else 0.0
            watch = gateway.name == "pixdash"
            async with Sampler(None, ctx.database_url if watch else None, ctx.database) as samples:
                outcome = await load.sequential(
                    gateway.target, count, markers=markers, tag=f"{key}{round_no}"
                )
            cpu = (gateway.tree.cpu() - cpu) if gateway.tree else None
            row = {
                "requests": outcome.ok + outcome.failed,
                "errors": outcome.failed,
                "p50_ms": _ms(outcome.p50),
                "p95_ms": _ms(outcome.quantile(0.95)),
                "cpu_ms": round(cpu * 1000 / max(outcome.ok, 1), 2) if cpu is not None else None,
            }
            if watch:
                row["postgres_cpu_ms"] = round(samples.postgres_cpu * 1000 / max(outcome.ok, 1), 2)
            if gateway.name == "direct":
                direct_p50 = row["p50_ms"]
            elif row["p50_ms"] is not None and direct_p50 is not None:
                row["added_ms"] = round(row["p50_ms"] - direct_p50, 3)
            per_round[gateway.name].append(row)
    summary = {}
    for name, rows in per_round.items():
        summary[name] = {
            metric: median(r.get(metric) for r in rows)
            for metric in ("p50_ms", "p95_ms", "added_ms", "cpu_ms", "postgres_cpu_ms")
            if any(r.get(metric) is not None for r in rows)
        }
        summary[name]["errors"] = sum(r["errors"] for r in rows)
        summary[name]["rounds"] = rows
    return summary


async def scenario_a(ctx: Context) -> dict:
    return await one_client(ctx, "a", SMALL, 40 if ctx.quick else 150)


async def scenario_b(ctx: Context) -> dict:
    result = await one_client(ctx, "b", LARGE, 15 if ctx.quick else 40)
    result["image_bytes"] = ctx.image_bytes
    return result


# --- (c): a 2 s upstream with many calls in flight -------------------------------------------


_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (\w+) ", re.M)


def _json_records(text: str) -> list[str]:
    """ERROR records of a JSON log (PIXDASH_LOG_FORMAT=json): one object per line."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if str(record.get("level", "")).upper() in ("ERROR", "CRITICAL"):
                found.append(line)
    return found


def log_errors(text: str) -> dict:
    """ERROR records in a stretch of the server's log (plain or JSON format), and how many
    of them were the database pool running dry or work lost to a request gone away."""
    starts = [(m.start(), m.group(1)) for m in _RECORD.finditer(text)]
    records = [
        text[start : starts[i + 1][0] if i + 1 < len(starts) else len(text)]
        for i, (start, level) in enumerate(starts)
        if level in ("ERROR", "CRITICAL")
    ] + _json_records(text)
    return {
        "error_records": len(records),
        "pool_errors": sum("couldn't get a connection" in r for r in records),
        "executor_errors": sum("CurrentThreadExecutor" in r for r in records),
    }


async def in_flight_run(
    ctx: Context,
    gateway: Gateway,
    level: int,
    *,
    markers: str,
    duration: float,
    once: bool,
    timeout: float = TIMEOUT,
) -> dict:
    tree = gateway.tree
    if tree:
        await settle(tree)
    baseline = tree.rss() if tree else 0
    cpu = tree.cpu() if tree else 0.0
    log_offset = gateway.service.log_size() if gateway.service else 0
    watch = gateway.name == "pixdash"
    async with Sampler(tree, ctx.database_url if watch else None, ctx.database) as samples:
        outcome = await load.closed_loop(
            gateway.target,
            level,
            duration=duration,
            markers=markers,
            tag=f"c{level}",
            timeout=timeout,
            once=once,
        )
    cpu = tree.cpu() - cpu if tree else None
    if tree:
        # Work the clients gave up on goes on; its errors belong to this run.
        settled = await settle(tree)
    ideal = level / 2.0
    row = {
        "in_flight": level,
        "requests": outcome.ok + outcome.failed,
        "ok": outcome.ok,
        "errors": outcome.failed,
        "error_kinds": outcome.errors,
        "wall_s": round(outcome.wall, 3),
        "throughput": round(outcome.ok / outcome.wall, 2),
        "fraction_of_ideal": round(outcome.ok / outcome.wall / ideal, 4),
        "p50_ms": _ms(outcome.p50),
        "p95_ms": _ms(outcome.quantile(0.95)),
    }
    if tree:
        # Per request sent: a gateway that answers none still spent its CPU on them.
        row["cpu_s"] = round(cpu, 3)
        row["cpu_ms"] = round(cpu * 1000 / max(outcome.ok + outcome.failed, 1), 2)
        row["rss_baseline_mb"] = round(baseline / MB, 1)
        row["rss_peak_mb"] = round(samples.peak_rss / MB, 1)
        row["rss_growth_per_request_mb"] = round((samples.peak_rss - baseline) / level / MB, 3)
    if watch:
        row["lock_waiters_mean"] = round(samples.waiters_mean, 2)
        row["lock_waiters_max"] = samples.waiters_max
        row["postgres_cpu_ms"] = round(samples.postgres_cpu * 1000 / max(outcome.ok, 1), 2)
        row.update(log_errors(gateway.service.log_since(log_offset)))
    if tree:
        row["settled_after_s"] = round(settled, 1)
    return row


async def scenario_c(ctx: Context) -> dict:
    levels = [50, 200, 500, 1000]
    duration = 4.0 if ctx.quick else 6.0
    rounds = 1 if ctx.quick else max(1, ctx.rounds - 1)
    baselines = {g.name: g.tree.rss() for g in ctx.gateways if g.tree}
    per_level: dict[int, dict[str, list[dict]]] = {}
    for level in levels:
        per_level[level] = {g.name: [] for g in ctx.gateways}
        for _ in range(rounds):
            for gateway in ctx.gateways:
                row = await in_flight_run(
                    ctx,
                    gateway,
                    level,
                    markers=f"{SMALL} [[sleep=2]]",
                    duration=duration,
                    once=False,
                )
                per_level[level][gateway.name].append(row)
                print(f"    c {level:5} in flight {gateway.name:8} {_brief(row)}", flush=True)
    # Memory with 1.5 MB images: every client once, all in flight together.
    memory_level = 200 if ctx.quick else 500
    memory: dict[str, dict] = {}
    for gateway in ctx.gateways:
        # A generous timeout: this run is about memory, and a gateway that spends 80 ms of
        # CPU per large image needs 40 s for 500 of them.
        row = await in_flight_run(
            ctx,
            gateway,
            memory_level,
            markers=f"{LARGE} [[sleep=2]]",
            duration=0,
            once=True,
            timeout=120,
        )
        if gateway.tree:
            per_request = row["rss_growth_per_request_mb"] * MB
            row["growth_per_request_vs_image"] = round(per_request / max(ctx.image_bytes, 1), 2)
        memory[gateway.name] = row
        print(f"    c {memory_level:5} × 1.5 MB  {gateway.name:8} {_brief(row)}", flush=True)
    after = {}
    for gateway in ctx.gateways:
        if gateway.tree:
            waited = await settle(gateway.tree)
            await asyncio.sleep(2)
            rss = gateway.tree.rss()
            after[gateway.name] = {
                "baseline_mb": round(baselines[gateway.name] / MB, 1),
                "after_mb": round(rss / MB, 1),
                "ratio": round(rss / max(baselines[gateway.name], 1), 2),
                "settled_after_s": round(waited, 1),
            }
    summary: dict = {
        "levels": {},
        "memory_large": memory,
        "rss_after": after,
        "jobs_after": await jobs_by_status(ctx.database_url),
    }
    for level, by_name in per_level.items():
        summary["levels"][str(level)] = {
            name: _summarise_level(rows) for name, rows in by_name.items()
        }
    return summary


def _summarise_level(rows: list[dict]) -> dict:
    keys = [
        "fraction_of_ideal",
        "throughput",
        "p50_ms",
        "p95_ms",
        "cpu_ms",
        "postgres_cpu_ms",
        "lock_waiters_mean",
        "rss_growth_per_request_mb",
    ]
    summary = {k: median(r.get(k) for r in rows) for k in keys if any(k in r for r in rows)}
    summary["errors"] = sum(r["errors"] for r in rows)
    for k in ("lock_waiters_max", "pool_errors", "error_records", "executor_errors"):
        if any(k in r for r in rows):
            summary[k] = max(r.get(k, 0) for r in rows)
    summary["rounds"] = rows
    return summary


def _brief(row: dict) -> str:
    parts = [f"{row['fraction_of_ideal']:.2f} of ideal", f"{row['errors']} errors"]
    if row.get("p50_ms") is not None:
        parts.append(f"p50 {row['p50_ms'] / 1000:.2f} s")
    if "cpu_ms" in row:
        parts.append(f"{row['cpu_ms']:.1f} ms CPU/req")
    if "lock_waiters_mean" in row:
        parts.append(f"lock waiters {row['lock_waiters_mean']:.1f}/{row['lock_waiters_max']}")
    if "rss_growth_per_request_mb" in row:
        parts.append(f"+{row['rss_growth_per_request_mb']:.2f} MB/req")
    return ", ".join(parts)


async def jobs_by_status(database_url: str) -> dict:
    """Generations by status and credits still held once the runs are over: work a
    gateway accepted and never finished shows up here."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        rows = await (
            await conn.execute(
                "SELECT status, count(*), coalesce(sum(credits_held), 0) "
                "FROM generator_generation GROUP BY status"
            )
        ).fetchall()
    return {status: {"jobs": n, "credits_held": float(held)} for status, n, held in rows}


# --- (d): the async path through Redis and a Celery worker ----------------------------------


async def _submit(http: aiohttp.ClientSession, target: load.Target, markers: str) -> str | None:
    async with http.post(
        target.base_url + "/async/images/generations",
        json=target.body(load.prompt("d", markers)),
        headers=target.headers,
    ) as response:
        body = await response.json(content_type=None)
        if response.status != 202:
            return None
        return body.get("id")


async def _task_status(http: aiohttp.ClientSession, target: load.Target, task_id: str) -> str:
    async with http.get(f"{target.base_url}/tasks/{task_id}", headers=target.headers) as response:
        body = await response.json(content_type=None)
        return body.get("status", "") if response.status == 200 else f"http-{response.status}"


class Finished:
    """One watcher for many tasks: polls the generations table for the ones still open,
    every 20 ms, instead of one HTTP poll per task (which would load the web process the
    benchmark measures)."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.waiting: dict[str, asyncio.Future] = {}

    def wait(self, task_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting[task_id.removeprefix("task_")] = future
        return future

    async def run(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(
            self.database_url, autocommit=True
        ) as conn:
            while not stop.is_set():
                if self.waiting:
                    rows = await (
                        await conn.execute(
                            "SELECT public_id, status FROM generator_generation "
                            "WHERE public_id = ANY(%s) AND status IN ('completed', 'failed')",
                            (list(self.waiting),),
                        )
                    ).fetchall()
                    for public_id, status in rows:
                        future = self.waiting.pop(public_id, None)
                        if future and not future.done():
                            future.set_result(status)
                await asyncio.sleep(0.02)


async def scenario_d(ctx: Context, worker: Service) -> dict:
    pixdash = ctx.gateway("pixdash")
    target = pixdash.target
    worker_tree = procstat.Tree(worker.pid)
    result: dict = {"worker_command": worker.extra.get("command")}
    async with load.session() as http:
        # submit → completed, one task at a time, polled through the API every 10 ms.
        latencies, failures = [], 0
        count = 10 if ctx.quick else 30
        for _ in range(count):
            began = time.perf_counter()
            task_id = await _submit(http, target, SMALL)
            status = ""
            while task_id and time.perf_counter() - began < TIMEOUT:
                status = await _task_status(http, target, task_id)
                if status in ("completed", "failed"):
                    break
                await asyncio.sleep(0.01)
            if status == "completed":
                latencies.append(time.perf_counter() - began)
            else:
                failures += 1
        result["submit_to_completed_p50_ms"] = _ms(
            statistics.median(latencies) if latencies else None
        )
        result["submit_to_completed_p95_ms"] = _ms(
            sorted(latencies)[max(0, round(0.95 * len(latencies)) - 1)] if latencies else None
        )
        result["latency_tasks"] = count
        result["latency_failures"] = failures

        # 100 tasks in flight, a 1 s upstream: clients submit the next as one completes.
        in_flight, duration = 100, (4.0 if ctx.quick else 8.0)
        finished = Finished(ctx.database_url)
        stop = asyncio.Event()
        watcher = asyncio.create_task(finished.run(stop))
        done, failed, errors = 0, 0, 0
        await settle(pixdash.tree)
        cpu_web, cpu_worker = pixdash.tree.cpu(), worker_tree.cpu()
        began = time.perf_counter()
        deadline = began + duration

        async def client() -> None:
            nonlocal done, failed, errors
            while time.perf_counter() < deadline:
                try:
                    task_id = await _submit(http, target, f"{SMALL} [[sleep=1]]")
                except aiohttp.ClientError:
                    task_id = None
                if not task_id:
                    errors += 1
                    await asyncio.sleep(0.05)
                    continue
                try:
                    status = await asyncio.wait_for(finished.wait(task_id), TIMEOUT * 2)
                except TimeoutError:
                    errors += 1
                    continue
                if status == "completed":
                    done += 1
                else:
                    failed += 1

        await asyncio.gather(*(client() for _ in range(in_flight)))
        wall = time.perf_counter() - began
        stop.set()
        await watcher
        tasks = max(done + failed, 1)
        result.update(
            {
                "in_flight": in_flight,
                "completed": done,
                "failed": failed,
                "errors": errors,
                "wall_s": round(wall, 2),
                "throughput": round(done / wall, 2),
                "fraction_of_ideal": round(done / wall / (in_flight / 1.0), 4),
                "web_cpu_ms_per_task": round((pixdash.tree.cpu() - cpu_web) * 1000 / tasks, 2),
                "worker_cpu_ms_per_task": round((worker_tree.cpu() - cpu_worker) * 1000 / tasks, 2),
            }
        )
    return result
