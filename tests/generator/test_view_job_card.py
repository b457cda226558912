"""GET /jobs/<id>/: the job card htmx polls every second; 286 stops the polling."""

from generator.models import Generation
from tests.generator.conftest import SAFETY_BLOCK, UPSTREAM_500

HX = {"HX-Request": "true"}


def test_a_running_job_keeps_polling_and_shows_progress(alice, make_job):
    job = make_job(alice, n=2, run=False)
    response = alice.client.get(f"{alice.prefix}/jobs/{job.pk}/", headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'hx-trigger="every 1s"' in html
    assert 'role="progressbar"' in html
    assert "4 credits on hold" in html


def test_a_finished_job_answers_286_with_its_thumbnails(alice, make_job):
    job = make_job(alice, n=2)
    response = alice.client.get(f"{alice.prefix}/jobs/{job.pk}/", headers=HX)
    assert response.status_code == 286
    html = response.content.decode()
    assert "every 1s" not in html
    assert "4 credits charged" in html
    for image in job.outputs.all():
        assert f'src="/images/{image.pk}/thumbnail"' in html
    assert 'loading="lazy"' in html


def test_a_safety_block_is_explained_in_words(alice, make_job, fake_gemini):
    fake_gemini.script = lambda request: SAFETY_BLOCK
    job = make_job(alice)
    html = alice.client.get(f"{alice.prefix}/jobs/{job.pk}/", headers=HX).content.decode()
    assert (
        "The prompt was rejected by the model&#x27;s safety filter — nothing was charged." in html
    )
    assert "nothing charged" in html


def test_an_unavailable_provider_is_explained_in_words(alice, make_job, fake_gemini, settings):
    settings.PIXDASH_JOB_MAX_ATTEMPTS = 1
    fake_gemini.script = lambda request: UPSTREAM_500
    job = make_job(alice)
    assert Generation.objects.get(pk=job.pk).status == "failed"
    html = alice.client.get(f"{alice.prefix}/jobs/{job.pk}/", headers=HX).content.decode()
    assert "The provider is unavailable — nothing was charged." in html


def test_without_htmx_it_redirects_to_the_job_page(alice, make_job):
    job = make_job(alice)
    response = alice.client.get(f"{alice.prefix}/jobs/{job.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"{alice.prefix}/compare/?g={job.pk}"


def test_another_teams_job_is_not_found(alice, charlie, make_job):
    job = make_job(alice)
    assert charlie.client.get(f"{charlie.prefix}/jobs/{job.pk}/", headers=HX).status_code == 404


def test_a_running_card_polls_only_its_status_line(alice, make_job):
    """The buttons and thumbnails are outside what the poll replaces: a click on them is
    never lost to a refresh."""
    job = make_job(alice, run=False)
    page = alice.client.get(f"{alice.prefix}/").content.decode()
    card = page.split(f'id="job-{job.pk}"')[1].split("</article>")[0]
    live = card.split(f'id="job-{job.pk}-live"')[1].split('<div class="thumbs">')[0]
    assert 'hx-trigger="every 1s"' in live
    assert "<button" not in live and "<a " not in live
    html = alice.client.get(f"{alice.prefix}/jobs/{job.pk}/", headers=HX).content.decode()
    assert html.strip().startswith(f'<div class="job-live" id="job-{job.pk}-live"')


def test_a_finished_card_replaces_the_whole_card_once(alice, make_job):
    job = make_job(alice)
    response = alice.client.get(f"{alice.prefix}/jobs/{job.pk}/", headers=HX)
    assert response.status_code == 286
    assert response["HX-Retarget"] == f"#job-{job.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert "Reuse settings" in response.content.decode()
