"""Prometheus metrics, added up over every process of a machine.

Web processes, Celery workers and beat each write their counters to memory-mapped files
under PIXDASH_METRICS_DIR (prometheus-client's multiprocess mode); /metrics on any web
process of that machine reads them all. Files of processes that have exited stay and keep
counting in the totals on purpose: a worker that is killed or restarted must not make
"images delivered" go down. Several machines are added up by Prometheus itself.

The pipeline and the request middleware call the small ``record_*`` functions below;
each is a few dictionary look-ups and memory writes, no I/O, no database query.
Gauges that describe shared state (jobs queued and running) are read from the database
when /metrics is scraped, not kept per process; with no per-process gauges, nothing needs
cleaning up when a process exits (no gunicorn child_exit hook).
"""

from decimal import Decimal

from django.conf import settings
from django.db.models import Count

# The settings point PROMETHEUS_MULTIPROC_DIR at PIXDASH_METRICS_DIR; prometheus-client
# reads it when first imported, so the settings must be loaded before the import below.
settings.PIXDASH_METRICS_DIR  # noqa: B018

from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

if not getattr(values.ValueClass, "_multiprocess", False):
    # Something imported prometheus-client before the settings ran: switch to shared
    # files before the first metric below is made.
    values.ValueClass = values.get_value_class()

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds: API requests span 10 ms (a task poll) to minutes (a sync n=10 generation).
_API_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_UPSTREAM_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 240)

API_REQUESTS = Counter(
    "pixdash_api_requests", "API requests answered", ["route", "method", "status"]
)
API_LATENCY = Histogram(
    "pixdash_api_request_duration_seconds",
    "Time to answer an API request",
    ["route"],
    buckets=_API_BUCKETS,
)
GENERATIONS = Counter(
    "pixdash_generations",
    "Generations finished, by the model that served them, where they came from and outcome",
    ["model", "source", "outcome"],
)
IMAGES_DELIVERED = Counter("pixdash_images_delivered", "Images stored and charged", ["model"])
CREDITS_CHARGED = Counter(
    "pixdash_credits_charged", "Credits charged for delivered images", ["model"]
)
UPSTREAM_LATENCY = Histogram(
    "pixdash_upstream_call_duration_seconds",
    "Upstream provider calls, one per image, by provider, upstream model and outcome",
    ["provider", "model", "outcome"],
    buckets=_UPSTREAM_BUCKETS,
)
SWEEPER_ACTIONS = Counter(
    "pixdash_sweeper_actions", "What the periodic sweeper did to jobs", ["action"]
)
RETENTION_ACTIONS = Counter(
    "pixdash_retention_actions",
    "Rows and files removed by the retention task",
    ["action"],
)

RATE_LIMITER_FAILURES = Counter(
    "pixdash_rate_limiter_failures",
    "Times the rate limiter's store (Redis) could not be reached and requests were let through",
)


def record_api_request(*, route: str, method: str, status: int, seconds: float) -> None:
    API_REQUESTS.labels(route, method, str(status)).inc()
    API_LATENCY.labels(route).observe(seconds)


def record_generation_finished(
    *, model: str, source: str, outcome: str, images: int, credits: Decimal
) -> None:
    """Once per generation, after its settlement committed: ``outcome`` is completed,
    partial (some images failed), failed or canceled; ``model`` the public id that served
    it."""
    GENERATIONS.labels(model, source, outcome).inc()
    if images:
        IMAGES_DELIVERED.labels(model).inc(images)
    if credits:
        CREDITS_CHARGED.labels(model).inc(float(credits))


def record_upstream_call(*, provider: str, model: str, ok: bool, seconds: float) -> None:
    UPSTREAM_LATENCY.labels(provider, model, "ok" if ok else "error").observe(seconds)


def record_sweeper(action: str, count: int = 1) -> None:
    if count:
        SWEEPER_ACTIONS.labels(action).inc(count)


def record_retention(action: str, count: int = 1) -> None:
    if count:
        RETENTION_ACTIONS.labels(action).inc(count)


def record_rate_limiter_failure() -> None:
    RATE_LIMITER_FAILURES.inc()


class _JobsCollector:
    """Jobs queued and running now, counted in the database at scrape time: the one
    number every process agrees on."""

    def collect(self):
        from generator.models import Generation, Status

        family = GaugeMetricFamily("pixdash_jobs", "Jobs waiting or running now", labels=["status"])
        rows = (
            Generation.objects.filter(status__in=[Status.SUBMITTED, Status.PROCESSING])
            .order_by()  # no ORDER BY columns in the GROUP BY
            .values("status")
            .annotate(n=Count("id"))
        )
        counts = {row["status"]: row["n"] for row in rows}
        for status in (Status.SUBMITTED, Status.PROCESSING):
            family.add_metric([status], counts.get(status, 0))
        yield family


def render() -> bytes:
    """The Prometheus text page: every process's counters on this machine, plus the
    database gauges."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(settings.PIXDASH_METRICS_DIR))
    registry.register(_JobsCollector())
    return generate_latest(registry)
