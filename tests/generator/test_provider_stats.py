"""/staff/providers/: success rate and latency percentiles per provider, staff only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generator.models import ProviderCall
from generator.staff import percentile, provider_stats

URL = "/staff/providers/"


def calls(provider, model, latencies, *, ok=True, error_code="", age=timedelta(0)):
    ProviderCall.objects.bulk_create(
        ProviderCall(
            provider=provider,
            model=model,
            ok=ok,
            error_code=error_code,
            latency_ms=latency,
            created_at=timezone.now() - age,
        )
        for latency in latencies
    )


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50, 95)
    assert percentile([7], 0.95) == 7
    assert percentile([], 0.5) == 0


def test_stats_group_by_provider_and_model_over_the_last_hour(db):
    calls("gemini", "gemini-2.5-flash-image", range(100, 1100, 10))  # 100 ok calls
    calls("gemini", "gemini-2.5-flash-image", [5000] * 5, ok=False, error_code="no_image")
    calls("gemini", "gemini-2.5-flash-image", [1] * 50, age=timedelta(hours=2))  # too old
    calls("openai", "gpt-image-1.5", [300, 400], ok=False, error_code="upstream_unavailable")

    stats, truncated = provider_stats(since=timezone.now() - timedelta(hours=1))

    assert not truncated
    gemini, openai = stats
    assert (gemini.provider, gemini.calls, gemini.ok) == ("gemini", 105, 100)
    assert round(gemini.success_rate, 1) == 95.2
    assert gemini.p50_ms == 620
    assert gemini.p95_ms == 1090  # rank ceil(105 * 0.95) = 100: the slowest ok call
    assert gemini.errors == {"no_image": 5}
    assert (openai.calls, openai.success_rate, openai.p95_ms) == (2, 0.0, 400)


def test_the_row_count_is_bounded(db):
    calls("local", "local-preview", range(30))
    stats, truncated = provider_stats(since=timezone.now() - timedelta(hours=1), limit=10)
    assert truncated and stats[0].calls == 10


def test_staff_see_the_table(client, django_user_model, db):
    staff = django_user_model.objects.create_user(
        email="ops@pixdash.test", password="x" * 12, name="Ops", is_staff=True
    )
    client.force_login(staff)
    calls("gemini", "gemini-2.5-flash-image", [800, 900, 2500])

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "gemini-2.5-flash-image" in page
    assert "100.0%" in page
    assert "900 ms / 2500 ms" in page


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_non_staff_are_sent_to_the_admin_login(client, alice, who):
    if who == "member":
        client = alice.client
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]
