"""/metrics: Prometheus text for the bearer of PIXDASH_METRICS_TOKEN only."""

import pytest

from generator.models import Status
from pixdash.core import metrics
from tests.prometheus import total

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def metrics_token(settings):
    settings.PIXDASH_METRICS_TOKEN = TOKEN
    return {"Authorization": f"Bearer {TOKEN}"}


def scrape(client, headers) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def test_metrics_are_off_without_a_token(client, settings):
    settings.PIXDASH_METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("sent", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_metrics_refuse_anything_but_the_token(client, metrics_token, sent):
    headers = {"Authorization": sent} if sent else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert TOKEN not in response.content.decode()


def test_api_requests_are_counted_by_route_and_status(client, db, alice_key, metrics_token):
    labels = {"route": "/v1/models", "method": "GET", "status": "200"}
    before = total(scrape(client, metrics_token), "pixdash_api_requests_total", **labels)

    client.get("/v1/models", headers=alice_key.headers)
    client.get("/v1/models", headers=alice_key.headers)
    client.get("/v1/models")  # 401: counted under its own status

    page = scrape(client, metrics_token)
    assert total(page, "pixdash_api_requests_total", **labels) == before + 2
    assert total(page, "pixdash_api_requests_total", route="/v1/models", status="401") >= 1
    assert total(page, "pixdash_api_request_duration_seconds_count", route="/v1/models") >= 3


def test_unknown_api_paths_share_one_route_label(client, db, alice_key, metrics_token):
    client.get("/v1/nothing/here/1", headers=alice_key.headers)
    client.get("/v1/nothing/here/2", headers=alice_key.headers)

    page = scrape(client, metrics_token)
    assert total(page, "pixdash_api_requests_total", route="/v1/<path:rest>", status="404") >= 2
    assert "nothing/here" not in page


def test_jobs_waiting_and_running_come_from_the_database(client, make_job, alice, metrics_token):
    make_job(alice, run=False)
    make_job(alice, run=False)
    make_job(alice)

    page = scrape(client, metrics_token)
    assert total(page, "pixdash_jobs", status=Status.SUBMITTED) == 2
    assert total(page, "pixdash_jobs", status=Status.PROCESSING) == 0


def test_recorded_outcomes_show_up_summed(client, db, metrics_token):
    page = scrape(client, metrics_token)
    before = total(page, "pixdash_credits_charged_total", model="probe-model")

    metrics.record_generation_finished(
        model="probe-model", source="api", outcome="partial", images=3, credits=6
    )
    metrics.record_upstream_call(provider="gemini", model="probe-up", ok=False, seconds=0.3)
    metrics.record_sweeper("timed_out", 2)

    page = scrape(client, metrics_token)
    assert total(page, "pixdash_credits_charged_total", model="probe-model") == before + 6
    assert total(page, "pixdash_images_delivered_total", model="probe-model") >= 3
    assert total(page, "pixdash_generations_total", model="probe-model", outcome="partial") >= 1
    assert (
        total(
            page, "pixdash_upstream_call_duration_seconds_count", model="probe-up", outcome="error"
        )
        >= 1
    )
    assert total(page, "pixdash_sweeper_actions_total", action="timed_out") >= 2


def test_delivered_images_and_credits_are_counted_by_the_model_that_made_them(
    client, alice, make_job, metrics_token
):
    model = "gemini-2.5-flash-image"  # nano-banana, 2 credits per image
    before = scrape(client, metrics_token)

    make_job(alice, n=2)

    after = scrape(client, metrics_token)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("pixdash_images_delivered_total", model=model) == 2
    assert delta("pixdash_credits_charged_total", model=model) == 4
    assert delta("pixdash_generations_total", model=model, source="ui", outcome="completed") == 1
    assert (
        delta(
            "pixdash_upstream_call_duration_seconds_count",
            provider="gemini",
            model=model,
            outcome="ok",
        )
        == 2
    )


def test_failed_generations_are_counted_and_charge_nothing(
    client, alice, make_job, fake_gemini, metrics_token
):
    from tests.generator.conftest import SAFETY_BLOCK

    fake_gemini.script = lambda request: SAFETY_BLOCK
    before = scrape(client, metrics_token)

    make_job(alice)

    after = scrape(client, metrics_token)
    failed = {"model": "gemini-2.5-flash-image", "outcome": "failed"}
    assert total(after, "pixdash_generations_total", **failed) == (
        total(before, "pixdash_generations_total", **failed) + 1
    )
    assert total(after, "pixdash_credits_charged_total") == total(
        before, "pixdash_credits_charged_total"
    )


def test_jobs_the_sweeper_times_out_are_counted(client, alice, make_job, metrics_token):
    from datetime import timedelta

    from django.utils import timezone

    from generator.models import Generation
    from generator.tasks import sweep_generations

    job = make_job(alice, run=False)
    Generation.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=1))
    before = total(
        scrape(client, metrics_token), "pixdash_sweeper_actions_total", action="timed_out"
    )

    assert sweep_generations.apply().get() == 1

    page = scrape(client, metrics_token)
    assert total(page, "pixdash_sweeper_actions_total", action="timed_out") == before + 1
    assert total(page, "pixdash_jobs", status=Status.SUBMITTED) == 0
