"""(e) What one sync request does, counted: Pixdash served as ``bench.instrument:application``
(the production ASGI app behind counters) by the Procfile's web command, a warm-up, then
sequential 64 px generations with a 0 ms upstream; counters and the fake upstream's
accepted connections are read before and after and divided by the requests."""

import asyncio
import json
import urllib.request

from bench import load
from bench.stack import MODEL, procfile_command, upstream_stats

APP = "pixdash.asgi:application"


def instrumented_command() -> str:
    command = procfile_command("web")
    if APP not in command:
        raise RuntimeError(f"the Procfile's web command does not serve {APP}: {command}")
    return command.replace(APP, "bench.instrument:application")


def _counts(url: str, *, reset: bool) -> dict:
    request = urllib.request.Request(url + "/__bench__/counts", method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run(pixdash, upstream, *, quick: bool) -> dict:
    web = pixdash.start_web(name="pixdash-counted", command=instrumented_command())
    try:
        target = load.Target("pixdash", web.url + "/v1", pixdash.api_key, MODEL)
        warm = asyncio.run(load.sequential(target, 10, markers="[[px=64]]", tag="e-warm"))
        if warm.failed:
            raise RuntimeError(f"the instrumented server fails: {warm.errors}")
        requests = 20 if quick else 50
        _counts(web.url, reset=True)
        accepted = upstream_stats(upstream).get("connections", 0)
        outcome = asyncio.run(load.sequential(target, requests, markers="[[px=64]]", tag="e"))
        counts = _counts(web.url, reset=False)
        accepted = upstream_stats(upstream).get("connections", 0) - accepted
    finally:
        web.stop()
    answered = max(outcome.ok, 1)
    per_request = {
        "sql_statements": counts.get("sql_statements", 0),
        "savepoint_statements": counts.get("savepoint_statements", 0),
        "transactions": counts.get("commits", 0) + counts.get("rollbacks", 0),
        "commits": counts.get("commits", 0),
        "pool_checkouts": counts.get("pool_checkouts", 0),
        "db_connections_opened": counts.get("db_connections_opened", 0),
        "redis_commands": counts.get("redis_commands", 0),
        "redis_connections_opened": counts.get("redis_connects", 0),
        "sync_to_async_hops": counts.get("sync_to_async", 0),
        "async_to_sync_hops": counts.get("async_to_sync", 0),
        "upstream_connections_opened": accepted,
    }
    per_request = {k: round(v / answered, 2) for k, v in per_request.items()}
    for name, value in per_request.items():
        print(f"    {name:30} {value:8.2f} per request", flush=True)
    return {
        "requests": outcome.ok + outcome.failed,
        "errors": outcome.failed,
        "command": web.extra["command"],
        "per_request": per_request,
        "raw": counts,
    }
