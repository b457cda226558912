"""/healthz, /readyz and /metrics, answered before the rest of the middleware.

Load balancers and Prometheus call a process by its address, over plain HTTP, without
cookies: answering here keeps ALLOWED_HOSTS, the HTTPS redirect, sessions and CSRF out of
their way (and their cost out of every probe). Only these three exact paths are taken.

- /healthz: the process is up and serving. No dependency is touched.
- /readyz: the database, the broker, the cache and the media storage, each checked on its
  own thread with PIXDASH_READY_TIMEOUT; JSON with each check's outcome and latency; 503
  when the database, broker or storage is down, so the balancer stops sending traffic to
  this process. The cache is reported but never makes a process unready: only rate
  limiting uses it, and that lets requests through while it is down (every process
  would otherwise leave the balancer at once over a cache outage).
- /metrics: Prometheus text, for `Authorization: Bearer $PIXDASH_METRICS_TOKEN` only.
"""

import hmac
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse

from pixdash.core.hybrid import HybridMiddleware

logger = logging.getLogger(__name__)

# Shared and small: a dependency that hangs occupies at most these threads, and later
# probes then time out too, which is the truth about that dependency.
_checks_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")


def check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # back to the pool (PostgreSQL); this thread keeps nothing


def check_broker() -> None:
    from pixdash.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        conn.default_channel  # noqa: B018 -- opening a channel talks to the broker (Redis: PING)


def check_cache() -> None:
    key, value = "pixdash:readyz", uuid.uuid4().hex
    cache.set(key, value, timeout=30)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not return what was just stored")


def check_storage() -> None:
    if settings.PIXDASH_S3_BUCKET:
        client = default_storage.connection.meta.client
        client.head_bucket(Bucket=default_storage.bucket_name)
        return
    location = Path(default_storage.location)
    location.mkdir(parents=True, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise PermissionError(f"media folder {location} is not writable")


CHECKS = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
    "storage": check_storage,
}


# Reported, but a failure does not make the process unready (see the module docstring).
OPTIONAL_CHECKS = frozenset({"cache"})


def _timed(check) -> float:
    started = time.perf_counter()
    check()
    return time.perf_counter() - started


def readiness() -> tuple[bool, dict]:
    """Run every check at once; each gets PIXDASH_READY_TIMEOUT seconds from the start."""
    timeout = float(settings.PIXDASH_READY_TIMEOUT)
    started = time.perf_counter()
    futures = {name: _checks_pool.submit(_timed, check) for name, check in CHECKS.items()}
    results = {}
    for name, future in futures.items():
        remaining = max(0.0, timeout - (time.perf_counter() - started))
        try:
            seconds = future.result(timeout=remaining)
            results[name] = {"ok": True, "latency_ms": round(seconds * 1000, 1)}
        except FutureTimeout:
            results[name] = {"ok": False, "error": "timeout", "latency_ms": timeout * 1000}
            logger.warning("readiness: %s did not answer within %ss", name, timeout)
        except Exception as error:
            # The class name only: messages can carry hosts, bucket names or worse.
            results[name] = {
                "ok": False,
                "error": type(error).__name__,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            logger.warning("readiness: %s failed: %s", name, type(error).__name__)
    ready = all(r["ok"] for name, r in results.items() if name not in OPTIONAL_CHECKS)
    return ready, results


def healthz(request) -> HttpResponse:
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def readyz(request) -> HttpResponse:
    ready, checks = readiness()
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


def metrics_page(request) -> HttpResponse:
    token = settings.PIXDASH_METRICS_TOKEN
    if not token:
        return HttpResponse(
            "Metrics are off: set PIXDASH_METRICS_TOKEN.\n", status=404, content_type="text/plain"
        )
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return HttpResponse(
            "Send Authorization: Bearer <PIXDASH_METRICS_TOKEN>.\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    from pixdash.core import metrics

    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)


_PROBES = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_page}


def _answer(handler, request) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return handler(request)


class ProbeMiddleware(HybridMiddleware):
    def call(self, request):
        handler = _PROBES.get(request.path)
        if handler is None:
            return self.get_response(request)
        return _answer(handler, request)

    async def acall(self, request):
        handler = _PROBES.get(request.path)
        if handler is None:
            return await self.get_response(request)
        if handler is healthz:
            return _answer(handler, request)  # no thread hop for the liveness probe
        return await sync_to_async(_answer, thread_sensitive=False)(handler, request)
