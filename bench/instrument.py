"""Pixdash with counters, for `make bench` (e): the production ASGI application behind a
wrapper that patches the libraries underneath it and counts, per process:

- SQL statements sent through psycopg cursors (sync and async), and among them
  SAVEPOINT / RELEASE SAVEPOINT / ROLLBACK TO SAVEPOINT,
- commits and rollbacks on psycopg connections (= transactions), new connections,
- pool checkouts (psycopg_pool getconn),
- Redis commands sent by redis-py (sync and asyncio; a pipeline counts each command; the
  raw counts name them) and new Redis connections (each costs HELLO, CLIENT SETINFO…),
- sync↔async hops through asgiref (SyncToAsync and AsyncToSync calls).

Nothing here is imported by Pixdash: the benchmark serves ``bench.instrument:application``
instead of ``pixdash.asgi:application``. ``GET /__bench__/counts`` answers the counters,
``POST /__bench__/counts`` answers them and starts again from zero.
"""

import json
import os
import threading
from collections import Counter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pixdash.settings")

COUNTS: Counter = Counter()
_LOCK = threading.Lock()
SAVEPOINT_PREFIXES = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def bump(name: str, amount: int = 1) -> None:
    with _LOCK:
        COUNTS[name] += amount


def _statement(query) -> None:
    text = query.decode(errors="replace") if isinstance(query, bytes) else str(query)
    bump("sql_statements")
    if text.lstrip().upper().startswith(SAVEPOINT_PREFIXES):
        bump("savepoint_statements")


def _wrap_sync(cls, name: str, before) -> None:
    original = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        before(self, *args, **kwargs)
        return original(self, *args, **kwargs)

    wrapper.__wrapped__ = original
    setattr(cls, name, wrapper)


def _wrap_async(cls, name: str, before) -> None:
    original = getattr(cls, name)

    async def wrapper(self, *args, **kwargs):
        before(self, *args, **kwargs)
        return await original(self, *args, **kwargs)

    wrapper.__wrapped__ = original
    setattr(cls, name, wrapper)


def patch() -> None:
    import psycopg
    import psycopg_pool
    from asgiref import sync

    _wrap_sync(psycopg.Cursor, "execute", lambda self, query, *a, **k: _statement(query))
    _wrap_sync(
        psycopg.Cursor,
        "executemany",
        lambda self, query, params_seq, *a, **k: _statement(query),
    )
    _wrap_async(psycopg.AsyncCursor, "execute", lambda self, query, *a, **k: _statement(query))
    for cls, wrap in ((psycopg.Connection, _wrap_sync), (psycopg.AsyncConnection, _wrap_async)):
        wrap(cls, "commit", lambda self: bump("commits"))
        wrap(cls, "rollback", lambda self: bump("rollbacks"))
    original_connect = psycopg.Connection.connect.__func__

    def connect(cls, *args, **kwargs):
        bump("db_connections_opened")
        return original_connect(cls, *args, **kwargs)

    psycopg.Connection.connect = classmethod(connect)
    _wrap_sync(psycopg_pool.ConnectionPool, "getconn", lambda self, *a, **k: bump("pool_checkouts"))
    _wrap_async(
        psycopg_pool.AsyncConnectionPool, "getconn", lambda self, *a, **k: bump("pool_checkouts")
    )
    _wrap_async(sync.SyncToAsync, "__call__", lambda self, *a, **k: bump("sync_to_async"))
    _wrap_sync(sync.AsyncToSync, "__call__", lambda self, *a, **k: bump("async_to_sync"))
    try:
        import redis.asyncio.connection as async_redis
        import redis.connection as sync_redis
    except ImportError:
        return
    # One send_command per command; a pipeline packs its commands together instead.
    _wrap_sync(sync_redis.AbstractConnection, "send_command", lambda self, *a, **k: _redis(a))
    _wrap_async(async_redis.AbstractConnection, "send_command", lambda self, *a, **k: _redis(a))
    # connect() runs before every command and returns at once when already connected.
    _wrap_sync(
        sync_redis.AbstractConnection,
        "connect",
        lambda self: getattr(self, "_sock", None) is None and bump("redis_connects"),
    )
    _wrap_async(
        async_redis.AbstractConnection,
        "connect",
        lambda self: not self.is_connected and bump("redis_connects"),
    )
    for module in (sync_redis, async_redis):
        _wrap_sync(
            module.AbstractConnection,
            "pack_commands",
            lambda self, commands: [_redis(command) for command in commands],
        )


def _redis(command) -> None:
    bump("redis_commands")
    if command:
        name = command[0]
        bump(f"redis {name.decode() if isinstance(name, bytes) else name}".upper())


patch()

from pixdash.asgi import application as pixdash_application  # noqa: E402


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/__bench__/counts":
        with _LOCK:
            body = json.dumps(dict(COUNTS)).encode()
            if scope["method"] == "POST":
                COUNTS.clear()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await pixdash_application(scope, receive, send)
