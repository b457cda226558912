"""The load generator: aiohttp on one event loop, cheap enough to hold 1,000 requests in
flight on a 2-core machine without becoming what is measured.

Every request carries a prompt no other request carries (a run tag and a counter) and no
Idempotency-Key, so a gateway can neither cache nor replay an answer.
"""

import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass, field

import aiohttp

_counter = itertools.count(1)


@dataclass
class Target:
    """Where a client sends image requests: the upstream itself or a gateway in front."""

    name: str
    base_url: str  # ends with /v1
    api_key: str
    model: str = "gpt-image-1.5"
    # The fake upstream, like OpenAI, refuses response_format for gpt-image models; the
    # gateways are asked for b64_json explicitly.
    response_format: str | None = "b64_json"

    def body(self, prompt: str) -> dict:
        body = {"model": self.model, "prompt": prompt, "n": 1, "size": "1024x1024"}
        if self.response_format:
            body["response_format"] = self.response_format
        return body

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"}


def prompt(tag: str, markers: str) -> str:
    return f"bench {tag} {next(_counter)} {markers}"


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds, successful calls only
    errors: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def wall(self) -> float:
        return max(self.finished - self.started, 1e-9)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def quantile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    @property
    def p50(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None


def session(limit: int = 0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, keepalive_timeout=60)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))


async def call(
    http: aiohttp.ClientSession, target: Target, text: str, outcome: Outcome, timeout: float
) -> bool:
    began = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with http.post(
                target.base_url + "/images/generations",
                json=target.body(text),
                headers=target.headers,
            ) as response:
                payload = await response.read()
                status = response.status
    except TimeoutError:
        outcome.error("timeout")
        return False
    except aiohttp.ClientError as error:
        outcome.error(type(error).__name__)
        return False
    if status != 200:
        outcome.error(str(status))
        return False
    if b'"b64_json"' not in payload:
        outcome.error("no-image")
        return False
    outcome.latencies.append(time.perf_counter() - began)
    return True


async def sequential(
    target: Target, count: int, *, markers: str, tag: str, timeout: float = 60
) -> Outcome:
    """``count`` calls one after another on one keep-alive connection (c=1)."""
    outcome = Outcome()
    async with session(limit=1) as http:
        outcome.started = time.perf_counter()
        for _ in range(count):
            await call(http, target, prompt(tag, markers), outcome, timeout)
        outcome.finished = time.perf_counter()
    return outcome


async def closed_loop(
    target: Target,
    in_flight: int,
    *,
    duration: float,
    markers: str,
    tag: str,
    timeout: float,
    once: bool = False,
) -> Outcome:
    """``in_flight`` clients, each sending its next call as soon as the last one answers,
    until ``duration`` has passed (or once each with ``once``). Throughput is the calls
    answered over the time from the first call to the last answer."""
    outcome = Outcome()
    async with session() as http:
        outcome.started = time.perf_counter()
        deadline = outcome.started + duration

        async def client() -> None:
            while True:
                answered = await call(http, target, prompt(tag, markers), outcome, timeout)
                if once or time.perf_counter() >= deadline:
                    return
                if not answered:
                    await asyncio.sleep(0.05)  # a refusing server must not become a spin loop

        await asyncio.gather(*(client() for _ in range(in_flight)))
        outcome.finished = time.perf_counter()
    return outcome
