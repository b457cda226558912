"""Who a log line is about, and one line per API request.

While a request or a Celery task runs, one ContextVar holds a small dict: the request id,
the team, the API key's prefix (never the key), the generation id and, for tasks, the
task id. ContextFilter copies it onto every log record, so any ``logger.info(...)`` made
on the request's behalf carries it, whichever module logs.

The dict is mutable on purpose: code running on a sync_to_async thread sees a copy of the
context, so ``bind()`` there must add to the request's dict rather than set a new one.

RequestContextMiddleware also writes the single line per /v1 request (route, status,
latency, credits) and counts the request in the metrics. Its cost per request is a
ContextVar set, two clock reads, a counter and a histogram update and one log record.
"""

import contextlib
import logging
import time
from contextvars import ContextVar
from decimal import Decimal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from pixdash.core import metrics
from pixdash.core.hybrid import HybridMiddleware

FIELDS = ("request_id", "task_id", "team", "key_prefix", "generation")

_current: ContextVar[dict | None] = ContextVar("pixdash_log_context", default=None)
api_logger = logging.getLogger("pixdash.api")
jobs_logger = logging.getLogger("pixdash.jobs")


def bind(**fields) -> None:
    """Add fields (team=, key_prefix=, generation=...) to the current request's or task's
    log context; a no-op outside one. None values are skipped."""
    context = _current.get()
    if context is not None:
        context.update((name, value) for name, value in fields.items() if value is not None)


def add_credits(amount: Decimal) -> None:
    """Count credits charged on behalf of the current request (for its API log line)."""
    context = _current.get()
    if context is not None:
        context["credits"] = context.get("credits", Decimal(0)) + amount


def generation_finished(
    generation, *, model: str, images: int, credits: Decimal, outcome: str | None = None
) -> None:
    """The pipeline's one call once a generation's settlement has committed (delivered,
    failed, timed out): counted in the metrics, added to the request's credits, and one
    log line. ``generation`` needs public_id, source and n loaded (no query here)."""
    outcome = outcome or (
        "failed" if not images else "partial" if images < generation.n else "completed"
    )
    metrics.record_generation_finished(
        model=model, source=generation.source, outcome=outcome, images=images, credits=credits
    )
    add_credits(credits)
    jobs_logger.info(
        "generation gen_%s %s: %s of %s images, %s credits (%s)",
        generation.public_id,
        outcome,
        images,
        generation.n,
        credits,
        model,
        extra={
            "event": "generation_finished",
            "generation": f"gen_{generation.public_id}",
            "model": model,
            "outcome": outcome,
            "images": images,
            "credits": str(credits),
        },
    )


def start(**fields) -> object:
    """Open a log context (a request or a task); returns the token for ``end``."""
    return _current.set({name: value for name, value in fields.items() if value is not None})


def end(token) -> None:
    _current.reset(token)


def current() -> dict:
    return dict(_current.get() or {})


class ContextFilter(logging.Filter):
    """Copies the current context onto each record: as attributes (JSON lines get them as
    keys) and as ``%(context)s``, a short ``[req_… team=3 key=pd_live_ab12…]`` suffix for
    the plain format."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        if not context:
            record.context = ""
            return True
        parts = []
        for name in FIELDS:
            value = context.get(name)
            if value is not None:
                if not hasattr(record, name):  # an explicit extra= wins
                    setattr(record, name, value)
                parts.append(str(value) if name == "request_id" else f"{name}={value}")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(_JsonFormatter):
    """python-json-logger, minus the plain format's ``context`` suffix."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "context"])
        super().__init__(*args, **kwargs)


class RequestContextMiddleware(HybridMiddleware):
    """Opens each request's log context, and logs and counts every /v1 request once."""

    def call(self, request):
        token, started = self._begin(request)
        try:
            response = self.get_response(request)
            self._finish(request, response, started)
        finally:
            end(token)
        return response

    async def acall(self, request):
        token, started = self._begin(request)
        try:
            response = await self.get_response(request)
            self._finish(request, response, started)
        finally:
            end(token)
        return response

    @staticmethod
    def _begin(request) -> tuple[object, float]:
        return start(request_id=getattr(request, "request_id", None)), time.perf_counter()

    @staticmethod
    def _finish(request, response, started: float) -> None:
        if not request.path.startswith("/v1/"):
            return
        seconds = time.perf_counter() - started
        match = request.resolver_match
        route = f"/{match.route}" if match is not None else "unmatched"
        metrics.record_api_request(
            route=route, method=request.method, status=response.status_code, seconds=seconds
        )
        context = _current.get() or {}
        credits = context.get("credits", Decimal(0))
        api_logger.info(
            "%s %s %s %.0fms credits=%s",
            request.method,
            route,
            response.status_code,
            seconds * 1000,
            credits,
            extra={
                "event": "api_request",
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "latency_ms": round(seconds * 1000, 1),
                "credits": str(credits),
            },
        )


def _task_started(task_id=None, task=None, **_):
    # Celery's thread pool runs the task on the thread that sends task_prerun, so the
    # context set here is the task's; the token rides on the task's request to postrun.
    task.request.pixdash_log_token = start(task_id=task_id)


def _task_finished(task=None, **_):
    token = getattr(task.request, "pixdash_log_token", None)
    if token is not None:
        with contextlib.suppress(ValueError):  # set in another context: nothing to undo
            end(token)


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="pixdash-log-context-start")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="pixdash-log-context-end")
