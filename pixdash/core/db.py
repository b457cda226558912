"""Database work from async views, in short steps that hand their connection back."""

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection


async def db_step(function, *args, **kwargs):
    """Run ``function`` on a worker thread, then return its connection (to the pool on
    PostgreSQL) at once: an async request must not hold a connection across a slow await,
    or a burst of requests exhausts the pool. Inside a test's wrapping transaction there
    is nothing to hand back."""

    def step():
        try:
            return function(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:
                close_old_connections()

    return await sync_to_async(step)()
