"""The one rate limiter: fixed one-minute (or longer) windows counted atomically.

Built on the ``limits`` library. With CACHE_URL set to Redis every process shares the
counts, and a hit is one round trip (a Lua script increments and sets the expiry
together, so concurrent requests can never both read the same count); without it the
counts live in the process (the embedded default, one process).

Fails open: when the counter store cannot be reached the request is allowed, the failure
is logged and counted (pixdash_rate_limiter_failures), and the store is left alone for
PAUSE_AFTER_FAILURE seconds so an unreachable Redis costs no time per request.
"""

import asyncio
import contextlib
import logging
import math
import threading
import time
import weakref
from dataclasses import dataclass

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits import storage as sync_storage
from limits import strategies as sync_strategies
from limits.aio import storage as async_storage
from limits.aio import strategies as async_strategies

from pixdash.core import metrics

logger = logging.getLogger(__name__)

PAUSE_AFTER_FAILURE = 5.0
# A Redis that does not answer at once is treated as down: limiting is not worth waiting for.
_REDIS_OPTIONS = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds until the window resets, when refused


ALLOW = Decision(True)


def _redis_url() -> str | None:
    url = settings.CACHE_URL
    return url if url.startswith(("redis://", "rediss://")) else None


class _Limiter:
    """Storages are made lazily: the async one per event loop, since a Redis connection
    belongs to the loop that opened it (uvicorn has one; tests make many)."""

    def __init__(self):
        self._sync = None
        self._async = weakref.WeakKeyDictionary()
        self._closers = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def sync(self):
        if self._sync is None:
            with self._lock:  # limits imports its Redis client lazily: not thread-safe
                if self._sync is None:
                    url = _redis_url()
                    store = (
                        sync_storage.RedisStorage(url, **_REDIS_OPTIONS)
                        if url
                        else sync_storage.MemoryStorage()
                    )
                    self._sync = (store, sync_strategies.FixedWindowRateLimiter(store))
        return self._sync

    async def for_loop(self):
        """The Redis storage of the running loop (only with Redis: in-process counts use
        the sync storage, which does no I/O, from every loop)."""
        loop = asyncio.get_running_loop()
        entry = self._async.get(loop)
        if entry is None:
            store = async_storage.RedisStorage(
                "async+" + _redis_url(), implementation="redispy", **_REDIS_OPTIONS
            )
            closer = _close_with_loop(store)
            await anext(closer)
            entry = self._async[loop] = (store, async_strategies.FixedWindowRateLimiter(store))
            self._closers[loop] = closer
        return entry

    def paused(self) -> bool:
        return time.monotonic() < self._paused_until

    def failed(self, where: str) -> None:
        self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
        metrics.record_rate_limiter_failure()
        logger.warning(
            "rate limiter store unreachable (%s); allowing requests for %.0f s",
            where,
            PAUSE_AFTER_FAILURE,
            exc_info=True,
        )

    def reset(self) -> None:
        """Forget every count (tests)."""
        self._paused_until = 0.0
        if self._sync is not None:
            with contextlib.suppress(Exception):  # a store that is down has nothing to forget
                self._sync[0].reset()
        self._sync = None


async def _close_with_loop(store):
    """Closes the storage's Redis connections when its event loop shuts down: the loop
    finalises its async generators then (asyncio.run, uvicorn), which runs this finally."""
    try:
        yield
    finally:
        await store.bridge.storage.aclose()


_limiter = _Limiter()


def _retry_after(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))


def hit(scope: str, identity: str, *, limit: int, seconds: int = 60) -> Decision:
    """Count one attempt of ``identity`` in ``scope``; refused past ``limit`` per window."""
    if _limiter.paused():
        return ALLOW
    item = RateLimitItemPerSecond(limit, seconds)
    store, strategy = _limiter.sync()
    try:
        if strategy.hit(item, scope, identity):
            return ALLOW
        return Decision(False, _retry_after(store.get_expiry(item.key_for(scope, identity))))
    except Exception:
        _limiter.failed(scope)
        return ALLOW


async def ahit(scope: str, identity: str, *, limit: int, seconds: int = 60) -> Decision:
    """hit() for async views: no thread hop, one Redis round trip when allowed."""
    if _redis_url() is None:
        return hit(scope, identity, limit=limit, seconds=seconds)
    if _limiter.paused():
        return ALLOW
    item = RateLimitItemPerSecond(limit, seconds)
    store, strategy = await _limiter.for_loop()
    try:
        if await strategy.hit(item, scope, identity):
            return ALLOW
        reset_at = await store.get_expiry(item.key_for(scope, identity))
        return Decision(False, _retry_after(reset_at))
    except Exception:
        _limiter.failed(scope)
        return ALLOW


def reset() -> None:
    _limiter.reset()
