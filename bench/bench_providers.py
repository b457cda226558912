"""Benchmark the real provider adapters against bench/fake_upstream.py (not a test).

    python bench/bench_providers.py [--latency 1.0] [--levels 10,100,300] [--rounds 3]

Starts the fake upstream as a subprocess (so its CPU is not counted), then for each level
of calls in flight drives GeminiProvider.generate() with that many concurrent calls on one
provider instance (= one job's client; the worst case for httpx's pool) and prints images/s,
p50/p95 latency and the client's CPU per call. Also prints what building a client costs.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()
import logging  # noqa: E402

logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per call skews CPU/call

import httpx  # noqa: E402

from generator.providers import http  # noqa: E402
from generator.providers.base import ImageRequest  # noqa: E402
from generator.providers.gemini import GeminiProvider  # noqa: E402
from generator.providers.openai_compat import OpenAICompatProvider  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_upstream(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench/fake_upstream.py"), "--port", str(port)]
        + ["--latency", str(latency), "--gemini-scale", "0.125"],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url + "/health", timeout=0.5)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("fake upstream did not start")


async def level(make_provider, in_flight: int, rounds: int) -> dict:
    provider = make_provider()
    request = ImageRequest(
        upstream_model="gemini-2.5-flash-image",
        prompt="bench",
        width=128,
        height=128,
        aspect_ratio="1:1",
    )
    latencies: list[float] = []
    failures = 0

    async def one():
        nonlocal failures
        started = time.perf_counter()
        try:
            await provider.generate(request)
        except Exception:
            failures += 1
        latencies.append(time.perf_counter() - started)

    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(one() for _ in range(in_flight)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await provider.aclose()
    latencies.sort()
    calls = len(latencies)
    return {
        "in_flight": in_flight,
        "calls": calls,
        "failures": failures,
        "images_s": (calls - failures) / wall,
        "p50": statistics.median(latencies),
        "p95": latencies[max(0, round(0.95 * calls) - 1)],
        "cpu_ms": 1000 * cpu / calls,
    }


def client_cost() -> tuple[float, float]:
    started = time.perf_counter()
    for _ in range(20):
        httpx.AsyncClient()
    default = (time.perf_counter() - started) / 20
    http.build_async_client()  # warm the shared TLS context
    started = time.perf_counter()
    for _ in range(200):
        http.build_async_client()
    shared = (time.perf_counter() - started) / 200
    return default * 1000, shared * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--levels", default="10,100,300")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    default_ms, shared_ms = client_cost()
    print(f"AsyncClient(): {default_ms:.1f} ms each; build_async_client() with the shared")
    print(f"TLS context: {shared_ms:.2f} ms each (one per job)\n")
    process, url = start_upstream(args.latency)
    policy = http.RetryPolicy(attempts=1, deadline=300)
    adapters = {
        "gemini": lambda: GeminiProvider(api_key="test-key", base_url=url, policy=policy),
        "openai": lambda: OpenAICompatProvider(
            api_key="test-key", base_url=url + "/v1", policy=policy
        ),
    }
    try:
        print(f"fake upstream latency {args.latency:.2f} s, {args.rounds} rounds per level")
        print("adapter  in-flight  calls  fail  images/s   p50 s   p95 s  CPU ms/call")
        for name, make in adapters.items():
            for in_flight in [int(x) for x in args.levels.split(",")]:
                r = asyncio.run(level(make, in_flight, args.rounds))
                print(
                    f"{name:7}  {r['in_flight']:9}  {r['calls']:5}  {r['failures']:4}  "
                    f"{r['images_s']:8.1f}  {r['p50']:6.2f}  {r['p95']:6.2f}  {r['cpu_ms']:11.2f}"
                )
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
