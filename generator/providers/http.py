"""The one place an httpx client is built, and the retry loop every adapter shares.

Every adapter gets its client here so timeouts, connection limits and the transport are
decided once. httpx's own async transport degrades past ~100 calls in flight on one client
(encode/httpx#3215), so callers also cap in-flight calls with a semaphore; swapping the
transport (e.g. for httpx-aiohttp) is a change to this module only.

Client lifetime: an AsyncClient's connections belong to the event loop that opened them,
and a Celery task runs each job in a fresh loop (async_to_sync), so no client may be kept
in a module global. Adapters open one client per job (lazily, on the job's loop) and
generator/jobs/render.py closes it when the job's images are done. What is expensive
about a new client is its TLS context (loading the CA bundle, ~10 ms of CPU); that is
built once per process here and shared, which leaves a client costing well under a
millisecond (see bench/).
"""

import asyncio
import email.utils
import functools
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from django.conf import settings

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
WRITE_TIMEOUT = 30.0
POOL_TIMEOUT = 30.0

# Upstream answers worth another attempt: rate limits and passing server trouble.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_BASE = 0.5  # seconds; attempt k waits uniform(0, min(cap, base * 2**k))
BACKOFF_CAP = 8.0
MIN_ATTEMPT_SECONDS = 1.0  # do not start an attempt with less time than this left


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loaded once per process: building it is most of what a new client costs.
    return httpx.create_ssl_context()


def build_async_client(
    *,
    base_url: str = "",
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    read_timeout: float = READ_TIMEOUT,
    max_connections: int = 100,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        transport=transport,
        verify=_tls_context(),
        timeout=httpx.Timeout(
            connect=CONNECT_TIMEOUT, read=read_timeout, write=WRITE_TIMEOUT, pool=POOL_TIMEOUT
        ),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections // 2
        ),
        follow_redirects=False,
    )


class LoopBoundClient:
    """An AsyncClient opened lazily on the running loop and reopened if the loop changes.

    One per provider instance, i.e. per job: the n images of a job share its connections.
    ``aclose()`` is called by generator/jobs/render.py once the job's images are done."""

    def __init__(self, factory: Callable[[], httpx.AsyncClient]):
        self._factory = factory
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            # A client left behind by a finished loop cannot be closed from this one; its
            # sockets died with that loop. Only a caller that skipped aclose() gets here.
            self._client, self._loop = self._factory(), loop
        return self._client

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    deadline: float = 240.0  # seconds for all attempts and waits together

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(
            attempts=settings.PIXDASH_PROVIDER_ATTEMPTS,
            deadline=settings.PIXDASH_PROVIDER_DEADLINE,
        )


class Unreachable(Exception):
    """Every attempt timed out or could not connect."""

    def __init__(self, message: str, *, timed_out: bool):
        super().__init__(message)
        self.timed_out = timed_out


async def backoff_sleep(seconds: float) -> None:
    # A module function so tests can patch the waiting away.
    await asyncio.sleep(seconds)


def backoff_delay(attempt: int) -> float:
    """Full jitter (AWS architecture blog): spreads retries of a burst of failed calls."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def send_with_retries(
    send: Callable[[httpx.Timeout], Awaitable[httpx.Response]], *, policy: RetryPolicy
) -> httpx.Response:
    """Call ``send(timeout)`` until it answers something other than a passing failure, at
    most ``policy.attempts`` times and within ``policy.deadline`` seconds overall.

    Returns the last response (possibly a 429/5xx when attempts ran out; the caller maps
    it). Raises Unreachable when the last attempt timed out or failed to connect. Each
    attempt's timeouts are cut to the time left, so the deadline holds even for a hang.
    """
    deadline = time.monotonic() + policy.deadline
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        timeout = httpx.Timeout(
            connect=min(CONNECT_TIMEOUT, remaining),
            read=min(READ_TIMEOUT, remaining),
            write=min(WRITE_TIMEOUT, remaining),
            pool=min(POOL_TIMEOUT, remaining),
        )
        try:
            response = await send(timeout)
        except httpx.TimeoutException as error:
            failure, wait_hint, response = error, None, None
        except httpx.TransportError as error:  # refused, reset, DNS...
            failure, wait_hint, response = error, None, None
        else:
            if response.status_code not in RETRY_STATUSES:
                return response
            failure, wait_hint = None, _retry_after(response)
        attempt += 1
        delay = backoff_delay(attempt - 1)
        if wait_hint is not None:
            delay = max(delay, wait_hint)
        out_of_time = deadline - time.monotonic() - delay < MIN_ATTEMPT_SECONDS
        if attempt >= policy.attempts or out_of_time:
            if response is not None:
                return response
            raise Unreachable(
                f"{type(failure).__name__} after {attempt} attempt(s)",
                timed_out=isinstance(failure, httpx.TimeoutException),
            ) from failure
        if response is not None:
            await response.aclose()
        await backoff_sleep(delay)
