"""jobs.admission: a team may have PIXDASH_TEAM_MAX_JOBS_IN_FLIGHT jobs queued or running;
the next is refused (429 with Retry-After on the API, a readable message on the page)
with nothing created or held, and other teams are not affected."""

import threading

import pytest
from django.db import connection

from billing import ledger
from generator import jobs
from generator.models import Generation, Source, Status
from tests.conftest import STARTING_CREDITS
from tests.generator.conftest import post_generation

CAP = 3


@pytest.fixture
def cap(settings):
    settings.PIXDASH_TEAM_MAX_JOBS_IN_FLIGHT = CAP


def submit(person):
    return jobs.submit(
        team=person.team,
        user=person.user,
        spec=jobs.GenerationSpec(model="nano-banana", prompt="a lighthouse", n=1),
        source=Source.API,
        is_async=True,
    ).generation


def test_the_job_past_the_cap_is_refused_with_nothing_held(alice, charlie, cap, ui_queue):
    admitted = [submit(alice) for _ in range(CAP)]

    with pytest.raises(jobs.TooManyJobsInFlight) as refused:
        submit(alice)

    assert f"already has {CAP} generations queued or running" in refused.value.message
    assert refused.value.retry_after > 0
    assert Generation.objects.filter(team=alice.team).count() == CAP
    assert ledger.credits_on_hold(alice.team) == CAP * admitted[0].credits_held
    # Another team has its own share.
    assert submit(charlie).status == Status.SUBMITTED


def test_finished_jobs_free_their_place(alice, cap, ui_queue, fake_gemini):
    first, *_ = [submit(alice) for _ in range(CAP)]
    jobs.run(generation_id=first.pk)

    assert submit(alice).status == Status.SUBMITTED


def test_the_api_answers_429_with_retry_after(client, alice, alice_key, cap, ui_queue):
    for _ in range(CAP):
        submit(alice)

    response = post_generation(
        client,
        alice_key,
        {"model": "nano-banana", "prompt": "one too many"},
        path="/v1/async/images/generations",
    )

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_jobs_in_flight"
    assert int(response["Retry-After"]) > 0
    assert response.get("x-should-retry") != "false"
    assert ledger.balance(alice.team) == STARTING_CREDITS - ledger.credits_on_hold(alice.team)


def test_the_page_explains_the_refusal(alice, cap, ui_queue):
    for _ in range(CAP):
        submit(alice)

    response = alice.client.post(
        f"/t/{alice.team.slug}/generate/",
        {"prompt": "one too many", "model": "gemini-2.5-flash-image", "n": 1},
    )

    assert response.status_code == 400
    assert f"already has {CAP} generations queued or running" in response.content.decode()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers, so threads cannot race"
)
def test_simultaneous_submissions_admit_exactly_the_cap(transactional_db, alice, cap, ui_queue):
    barrier = threading.Barrier(CAP + 10)
    outcomes = []

    def one() -> None:
        barrier.wait()
        try:
            submit(alice)
            outcomes.append("admitted")
        except jobs.TooManyJobsInFlight:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(CAP + 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert outcomes.count("admitted") == CAP
    assert outcomes.count("refused") == 10
    assert Generation.objects.filter(team=alice.team).count() == CAP
