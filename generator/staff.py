"""Staff-only operational pages: how the upstream providers are doing."""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from generator.models import ProviderCall

WINDOW = timedelta(hours=1)
# Enough rows for honest percentiles at a few calls per second; beyond that the newest
# rows stand for the hour (the page says so), and the query stays a bounded index scan.
MAX_ROWS = 50_000


@dataclass
class ProviderStats:
    provider: str
    model: str
    calls: int
    ok: int
    p50_ms: int
    p95_ms: int
    errors: dict[str, int]

    @property
    def success_rate(self) -> float:
        return 100 * self.ok / self.calls if self.calls else 0.0


def percentile(sorted_values: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0
    rank = max(1, -(-len(sorted_values) * fraction // 1))  # ceil(n * fraction)
    return sorted_values[int(rank) - 1]


def provider_stats(*, since, limit: int = MAX_ROWS) -> tuple[list[ProviderStats], bool]:
    rows = list(
        ProviderCall.objects.filter(created_at__gte=since)
        .order_by("-created_at")
        .values_list("provider", "model", "ok", "error_code", "latency_ms")[: limit + 1]
    )
    truncated = len(rows) > limit
    groups: dict[tuple[str, str], list] = {}
    for provider, model, ok, error_code, latency in rows[:limit]:
        groups.setdefault((provider, model), []).append((ok, error_code, latency))
    stats = []
    for (provider, model), calls in sorted(groups.items()):
        latencies = sorted(latency for _, _, latency in calls)
        errors: dict[str, int] = {}
        for ok, error_code, _ in calls:
            if not ok:
                errors[error_code or "unknown"] = errors.get(error_code or "unknown", 0) + 1
        stats.append(
            ProviderStats(
                provider=provider,
                model=model,
                calls=len(calls),
                ok=sum(1 for ok, _, _ in calls if ok),
                p50_ms=percentile(latencies, 0.50),
                p95_ms=percentile(latencies, 0.95),
                errors=dict(sorted(errors.items(), key=lambda item: -item[1])),
            )
        )
    return stats, truncated


@require_GET
@staff_member_required
def provider_stats_page(request):
    stats, truncated = provider_stats(since=timezone.now() - WINDOW)
    # Latency bars on a log scale: one provider timing out at 120 s would otherwise flatten
    # every other bar to a sliver.
    slowest = math.log1p(max((s.p95_ms for s in stats), default=0)) or 1.0
    rows = [
        {
            "stats": s,
            "p50_pct": 100 * math.log1p(s.p50_ms) / slowest,
            "p95_pct": 100 * math.log1p(s.p95_ms) / slowest,
        }
        for s in stats
    ]
    return render(
        request,
        "generator/provider_stats.html",
        {"rows": rows, "truncated": truncated, "max_rows": MAX_ROWS},
    )
