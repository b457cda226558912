"""The server's own event loop: long-lived, and the place requests are served from.

Work that may share state across requests (one upstream HTTP client and its connection
pool, a bounded pool of database threads) does so only on a loop marked here. Any other
loop — a Celery task's, a test's — lives for one job or one test, and gets per-job
clients and the caller's own thread for database work instead.
"""

import asyncio
import weakref

_serving_loops: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()


def mark_serving_loop() -> None:
    _serving_loops.add(asyncio.get_running_loop())


def is_serving_loop() -> bool:
    try:
        return asyncio.get_running_loop() in _serving_loops
    except RuntimeError:  # no running loop
        return False
