"""The one place an httpx client is built.

Every adapter gets its client here so timeouts, connection limits and the transport are
decided once. httpx's own async transport degrades past ~100 calls in flight on one client
(encode/httpx#3215), so callers also cap in-flight calls with a semaphore; swapping the
transport (e.g. for httpx-aiohttp) is a change to this module only.
"""

import httpx

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
WRITE_TIMEOUT = 30.0
POOL_TIMEOUT = 30.0


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
        timeout=httpx.Timeout(
            connect=CONNECT_TIMEOUT, read=read_timeout, write=WRITE_TIMEOUT, pool=POOL_TIMEOUT
        ),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections // 2
        ),
        follow_redirects=False,
    )
