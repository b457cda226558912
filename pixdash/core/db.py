"""Database work from async code, in short steps that hand their connection back."""

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

from pixdash.core import loops


def step(function, *args, **kwargs):
    """Run ``function(*args, **kwargs)`` here, then hand this thread's connection back (to
    the pool on PostgreSQL) at once: a job or request must not hold one across a slow
    upstream call, or a burst of them exhausts the pool. Inside a test's wrapping
    transaction there is nothing to hand back."""
    try:
        return function(*args, **kwargs)
    finally:
        if not connection.in_atomic_block:
            close_old_connections()


def _step(function, args, kwargs):
    return step(function, *args, **kwargs)


@functools.cache
def _executor() -> ThreadPoolExecutor:
    # As many threads as pooled connections: a step never waits for a thread while a
    # connection is free, and never holds a thread while waiting for a connection.
    return ThreadPoolExecutor(
        max_workers=settings.PIXDASH_DB_THREADS, thread_name_prefix="pixdash-db"
    )


async def db_step(function, *args, **kwargs):
    """Run ``function(*args, **kwargs)`` on a thread and hand its connection back.

    On the server's loop the step runs on a small fixed pool of threads (a plain executor
    hop, with the caller's context variables); elsewhere — a Celery task or a test that
    drives an async view through async_to_sync — on the caller's own thread, which holds
    the connection (and a test's transaction) that the step must see.
    """
    if loops.is_serving_loop():
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(_executor(), context.run, _step, function, args, kwargs)
    return await sync_to_async(_step)(function, args, kwargs)
