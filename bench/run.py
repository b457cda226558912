"""`make bench`: the gateway measured side by side with LiteLLM, from nothing.

    .venv/bin/python -m bench.run                 # everything (~15 minutes)
    .venv/bin/python -m bench.run --quick         # fewer rounds and requests, for iteration
    .venv/bin/python -m bench.run --only a,c      # some scenarios (a b c d e f)
    .venv/bin/python -m bench.run --keep          # leave the database for a look afterwards

Prints one table (targets beside figures, ratios to LiteLLM), writes
bench/results/bench-<date>.json and latest.json, and rewrites the "latest figures" section of
bench/README.md (only after a full run of every scenario). See bench/README.md.
"""

import argparse
import asyncio
import platform
import sys
import time
from datetime import datetime

from bench import procstat, report, scenarios, stack

ALL = "abcdef"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Pixdash vs LiteLLM vs the upstream alone")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for iteration")
    parser.add_argument("--only", default=ALL, help="scenarios to run, e.g. a,c (default all)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM (no ratios)")
    args = parser.parse_args(argv)
    args.only = "".join(sorted({s for s in args.only.lower() if s in ALL}))
    if not args.only:
        parser.error(f"--only takes letters among {ALL}")
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    return args


async def hot_path(args, ctx: scenarios.Context, pixdash: stack.Pixdash, results: dict) -> None:
    steps = [s for s in "abcd" if s in args.only]
    if not steps:
        return
    print("warming up", flush=True)
    await scenarios.warm_up(ctx)
    if "a" in steps:
        print("(a) one client, 64 px images", flush=True)
        results["a"] = await scenarios.scenario_a(ctx)
    if "b" in steps:
        print("(b) one client, 1.5 MB images", flush=True)
        results["b"] = await scenarios.scenario_b(ctx)
    if "c" in steps:
        print("(c) 2 s upstream, many calls in flight", flush=True)
        results["c"] = await scenarios.scenario_c(ctx)
    if "d" in steps:
        print("(d) async path with a Celery worker", flush=True)
        worker = pixdash.start_worker()
        try:
            results["d"] = await scenarios.scenario_d(ctx, worker)
        finally:
            worker.stop()


def main(argv=None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    machine = {
        **procstat.machine(),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "load_before": [round(x, 2) for x in procstat.load_average()],
        "quick": args.quick,
        "scenarios": args.only,
        "rounds": args.rounds,
    }
    results: dict = {"machine": machine}
    services: list[stack.Service] = []
    database = stack.Database()
    try:
        print(f"database {database.name}, redis, fake upstream", flush=True)
        database.create()
        machine["postgres"] = database.version()
        redis = stack.start_redis()
        services.append(redis)
        machine["redis"] = redis.extra["version"]
        upstream = stack.start_upstream()
        services.append(upstream)
        litellm = None
        if not args.no_litellm and set(args.only) & set("abc"):
            print(f"LiteLLM {stack.LITELLM_VERSION}", flush=True)
            litellm = stack.start_litellm(upstream)
            services.append(litellm)
            machine["litellm"] = stack.LITELLM_VERSION
        print("Pixdash: migrate, team, credits, key", flush=True)
        pixdash = stack.Pixdash(
            stack.pixdash_env(database=database, redis=redis, upstream=upstream)
        )
        pixdash.prepare()
        web = pixdash.start_web()
        services.append(web)
        machine["pixdash_command"] = web.extra["command"]
        from bench.fake_upstream import answer_png

        ctx = scenarios.Context(
            gateways=scenarios.gateways(upstream, litellm, web, pixdash.api_key),
            database_url=database.url,
            database=database.name,
            rounds=args.rounds,
            quick=args.quick,
            image_bytes=len(answer_png(scenarios.LARGE, 1024, 1024, 0)),
        )
        asyncio.run(hot_path(args, ctx, pixdash, results))
        if "e" in args.only:
            from bench import counts

            print("(e) counts per sync request (instrumented server)", flush=True)
            results["e"] = counts.run(pixdash, upstream, quick=args.quick)
        if "f" in args.only:
            from bench import pages

            print("(f) dashboard pages with 100k images and 1M ledger rows", flush=True)
            results["f"] = pages.run(pixdash, web, quick=args.quick)
    finally:
        for service in reversed(services):
            service.stop()
        if not args.keep:
            database.drop()
    machine["load_after"] = [round(x, 2) for x in procstat.load_average()]
    machine["duration_s"] = round(time.perf_counter() - began)
    table = report.rows(results)
    print()
    print(report.text_table(table))
    path = report.write_json(results)
    print(f"\nwrote {path.relative_to(report.BENCH.parent)}; took {machine['duration_s']} s")
    if args.only == ALL and not args.quick:
        report.update_readme(results, table)
        print("updated bench/README.md (latest figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
