"""The one place an httpx client is built, and the call loop every adapter shares.

Clients. httpx's own async transport degrades past ~100 calls in flight on one client
(encode/httpx#3215); the aiohttp transport (httpx-aiohttp) holds thousands at a fraction
of the CPU, so production clients use it while adapters keep speaking httpx. A client's
connections belong to the event loop that opened them:

- the web process serves every request on one long-lived loop (pixdash/core/loops.py):
  every adapter there uses that loop's one client, so connections to an upstream are
  reused across requests (keep-alive) and the number of calls in flight is capped per
  process (PIXDASH_UPSTREAM_CONCURRENCY);
- elsewhere (a Celery task runs each job on a loop of its own) an adapter opens a client
  for the job and the pipeline closes it when the job's images are done.

Calls. ``call()`` sends with retries (429/5xx/timeouts, jittered backoff) within a total
deadline, and reads the body itself, streamed: each attempt as a whole (connect, send,
every byte of the answer) is bounded by the time left, so an upstream that drips one byte
every few seconds is cut at the deadline, and the body is capped both as received and as
decompressed, so neither a huge answer nor a gzip bomb can take the process's memory.
"""

import asyncio
import email.utils
import functools
import random
import ssl
import time
import weakref
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import httpx
from django.conf import settings
from httpx_aiohttp import AiohttpTransport

from pixdash.core import loops

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


def _timeouts(read_timeout: float = READ_TIMEOUT) -> httpx.Timeout:
    return httpx.Timeout(
        connect=CONNECT_TIMEOUT, read=read_timeout, write=WRITE_TIMEOUT, pool=POOL_TIMEOUT
    )


def build_async_client(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    read_timeout: float = READ_TIMEOUT,
    max_connections: int | None = None,
) -> httpx.AsyncClient:
    """A client on the aiohttp transport (or on ``transport``, which tests inject)."""
    max_connections = max_connections or settings.PIXDASH_UPSTREAM_CONCURRENCY
    if transport is None:
        transport = AiohttpTransport(
            client=functools.partial(_aiohttp_session, max_connections=max_connections)
        )
    return httpx.AsyncClient(
        transport=transport,
        timeout=_timeouts(read_timeout),
        follow_redirects=False,
        # Answers are decompressed by read_capped(), under the cap, never by the client.
        headers={"Accept-Encoding": "identity"},
    )


def _aiohttp_session(*, max_connections: int) -> aiohttp.ClientSession:
    # Built lazily by the transport, inside the loop that will use it.
    connector = aiohttp.TCPConnector(limit=max_connections, ssl=_tls_context())
    return aiohttp.ClientSession(connector=connector, auto_decompress=False)


_shared_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]"
_shared_clients = weakref.WeakKeyDictionary()
_in_flight: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]"
_in_flight = weakref.WeakKeyDictionary()


def _shared_client(loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient:
    client = _shared_clients.get(loop)
    if client is None:
        client = _shared_clients[loop] = build_async_client()
    return client


def _limit() -> asyncio.Semaphore:
    """At most PIXDASH_UPSTREAM_CONCURRENCY upstream calls in flight per loop."""
    loop = asyncio.get_running_loop()
    semaphore = _in_flight.get(loop)
    if semaphore is None:
        semaphore = _in_flight[loop] = asyncio.Semaphore(settings.PIXDASH_UPSTREAM_CONCURRENCY)
    return semaphore


class LoopBoundClient:
    """An adapter's client: the loop's shared one where there is one, else a client of its
    own opened lazily on the running loop (reopened if the loop changes), which
    ``aclose()`` closes once the job's images are done. A client built on an injected
    ``transport`` (tests) is never shared."""

    def __init__(self, factory: Callable[[], httpx.AsyncClient], *, shareable: bool = True):
        self._factory = factory
        self._shareable = shareable
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._shareable and loops.is_serving_loop():
            return _shared_client(loop)
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
    max_bytes: int = 64 * 1024 * 1024  # per answer, as received and as decompressed

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(
            attempts=settings.PIXDASH_PROVIDER_ATTEMPTS,
            deadline=settings.PIXDASH_PROVIDER_DEADLINE,
            max_bytes=settings.PIXDASH_UPSTREAM_MAX_BYTES,
        )

    def within(self, seconds: float | None) -> "RetryPolicy":
        """This policy with its deadline cut to ``seconds`` (what a job has left)."""
        if seconds is None or seconds >= self.deadline:
            return self
        return RetryPolicy(
            attempts=self.attempts, deadline=max(0.0, seconds), max_bytes=self.max_bytes
        )


class Unreachable(Exception):
    """Every attempt timed out or could not connect."""

    def __init__(self, message: str, *, timed_out: bool):
        super().__init__(message)
        self.timed_out = timed_out


class BodyTooLarge(Exception):
    """The answer passed the byte cap, as received or once decompressed."""

    def __init__(self, cap: int):
        super().__init__(f"the answer is larger than {cap // (1024 * 1024)} MB")
        self.cap = cap


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


async def call(
    client: httpx.AsyncClient, method: str, url: str, *, policy: RetryPolicy, **request
) -> httpx.Response:
    """Send ``method url`` until it answers something other than a passing failure, at
    most ``policy.attempts`` times and within ``policy.deadline`` seconds overall.

    Returns the last response with its body read (possibly a 429/5xx when attempts ran
    out; the caller maps it). Raises Unreachable when the last attempt timed out or failed
    to connect, and BodyTooLarge when an answer passes ``policy.max_bytes``.
    """
    deadline = time.monotonic() + policy.deadline
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        try:
            response = await _attempt(client, method, url, remaining, policy.max_bytes, request)
        except (httpx.TimeoutException, TimeoutError) as error:
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
            timed_out = isinstance(failure, httpx.TimeoutException | TimeoutError)
            raise Unreachable(
                f"{type(failure).__name__} after {attempt} attempt(s)", timed_out=timed_out
            ) from failure
        await backoff_sleep(delay)


async def _attempt(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    remaining: float,
    max_bytes: int,
    request: dict,
) -> httpx.Response:
    """One attempt, bounded as a whole by ``remaining`` seconds, its body read."""
    timeout = httpx.Timeout(
        connect=min(CONNECT_TIMEOUT, remaining),
        read=min(READ_TIMEOUT, remaining),
        write=min(WRITE_TIMEOUT, remaining),
        pool=min(POOL_TIMEOUT, remaining),
    )
    async with _limit(), asyncio.timeout(max(remaining, 0.0)):
        outgoing = client.build_request(method, url, timeout=timeout, **request)
        response = await client.send(outgoing, stream=True)
        try:
            body = await read_capped(response, max_bytes)
        finally:
            await response.aclose()
    # The body is decoded already: the rebuilt response must not claim an encoding.
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        status_code=response.status_code,
        headers=headers,
        content=body,
        request=outgoing,
        extensions={"reason_phrase": response.reason_phrase.encode("ascii", "replace")},
    )


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, decompressed here (gzip and deflate; other encodings are refused) so that
    neither the bytes received nor the bytes they expand to can pass ``max_bytes``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(max_bytes)
    try:
        loaded = response.content  # a transport that answered from memory (tests)
    except httpx.ResponseNotRead:
        pass
    else:
        if len(loaded) > max_bytes:
            raise BodyTooLarge(max_bytes)
        return loaded
    decoder = _decoder(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    received = size = 0
    async for raw in response.aiter_raw():
        received += len(raw)
        if received > max_bytes:
            raise BodyTooLarge(max_bytes)
        # Never asks zlib for more than one byte past the cap, whatever the ratio.
        data = decoder.decompress(raw, max_bytes - size + 1) if decoder else raw
        size += len(data)
        if size > max_bytes or (decoder and decoder.unconsumed_tail):
            raise BodyTooLarge(max_bytes)
        chunks.append(data)
    return b"".join(chunks)


def _decoder(encoding: str):
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, from the header
    raise httpx.DecodingError(f"unsupported content-encoding {encoding!r}")
