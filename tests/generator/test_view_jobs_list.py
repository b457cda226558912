"""The recent-jobs list: clear finished jobs, or one card; running jobs stay."""

from billing import ledger
from generator.models import Generation

HX = {"HX-Request": "true"}


def _listed(person) -> str:
    return person.client.get(f"{person.prefix}/").content.decode()


def test_clear_finished_takes_finished_cards_off_and_keeps_running_ones(alice, make_job):
    done = make_job(alice)
    running = make_job(alice, run=False)
    response = alice.client.post(f"{alice.prefix}/jobs/clear/", headers=HX)
    assert response.status_code == 200
    html = _listed(alice)
    assert f'id="job-{done.pk}"' not in html
    assert f'id="job-{running.pk}"' in html
    # The job itself is untouched: it is still in the gallery and the ledger.
    assert Generation.objects.get(pk=done.pk).status == "completed"


def test_jobs_started_after_clearing_are_listed(alice, make_job):
    make_job(alice)
    alice.client.post(f"{alice.prefix}/jobs/clear/")
    later = make_job(alice)
    assert f'id="job-{later.pk}"' in _listed(alice)


def test_one_finished_card_can_be_cleared(alice, make_job):
    first, second = make_job(alice), make_job(alice)
    response = alice.client.post(f"{alice.prefix}/jobs/{first.pk}/dismiss/", headers=HX)
    assert response.status_code == 200
    assert response.content.decode().strip() == ""
    html = _listed(alice)
    assert f'id="job-{first.pk}"' not in html and f'id="job-{second.pk}"' in html


def test_a_running_card_cannot_be_cleared(alice, make_job):
    running = make_job(alice, run=False)
    assert alice.client.post(f"{alice.prefix}/jobs/{running.pk}/dismiss/").status_code == 404


def test_clearing_is_per_team(alice, make_job):
    from pixdash.accounts.teams import create_team

    done = make_job(alice)
    side = create_team(owner=alice.user, name="Side")
    alice.client.post(f"/t/{side.slug}/jobs/clear/")
    assert f'id="job-{done.pk}"' in _listed(alice)


def test_another_teams_job_cannot_be_cleared(alice, charlie, make_job):
    job = make_job(alice)
    assert charlie.client.post(f"{charlie.prefix}/jobs/{job.pk}/dismiss/").status_code == 404


def test_canceling_a_queued_job_releases_its_hold_at_once(alice, make_job):
    job = make_job(alice, n=2, run=False)
    assert ledger.credits_on_hold(alice.team) == job.credits_held
    response = alice.client.post(f"{alice.prefix}/jobs/{job.pk}/cancel/", headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Canceled" in html and "nothing charged" in html
    assert "every 1s" not in html and ">Cancel</button>" not in html
    assert Generation.objects.get(pk=job.pk).status == "canceled"
    assert ledger.credits_on_hold(alice.team) == 0


def test_a_finished_job_is_not_canceled(alice, make_job):
    job = make_job(alice)
    response = alice.client.post(f"{alice.prefix}/jobs/{job.pk}/cancel/", headers=HX)
    assert response.status_code == 200
    assert Generation.objects.get(pk=job.pk).status == "completed"


def test_another_teams_job_cannot_be_canceled(alice, charlie, make_job):
    job = make_job(alice, run=False)
    assert charlie.client.post(f"{charlie.prefix}/jobs/{job.pk}/cancel/").status_code == 404
    assert Generation.objects.get(pk=job.pk).status == "submitted"
