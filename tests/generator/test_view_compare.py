"""/compare/ (jobs side by side), POST /jobs/<id>/compare/ and POST /jobs/<id>/rerun/."""

from generator.models import Generation, Source

HX = {"HX-Request": "true"}


def test_trying_other_models_runs_the_same_prompt_and_shows_columns(alice, make_job, ui_queue):
    job = make_job(alice, prompt="a red fox", n=2)
    response = alice.client.post(
        f"{alice.prefix}/jobs/{job.pk}/compare/",
        {"models": ["gemini-3-pro-image-preview", "local-preview"]},
    )
    assert response.status_code == 302
    others = Generation.objects.exclude(pk=job.pk).order_by("pk")
    assert [g.image_model.public_id for g in others] == [
        "gemini-3-pro-image-preview",
        "local-preview",
    ]
    assert {(g.prompt, g.n, g.source) for g in others} == {("a red fox", 2, Source.UI)}
    assert response["Location"] == (
        f"{alice.prefix}/compare/?g={job.pk}&g={others[0].pk}&g={others[1].pk}"
    )

    page = alice.client.get(response["Location"]).content.decode()
    assert "The same prompt on 3 models" in page
    assert page.count('class="job job-') == 3
    assert "4 credits charged" in page  # the first column, finished
    assert "16 credits on hold" in page  # pro, still queued


def test_at_most_four_columns(alice, make_job, ui_queue):
    job = make_job(alice)
    models = ["gemini-3.1-flash-image-preview", "gemini-3-pro-image-preview", "local-preview"]
    models.append("gpt-image-1.5")
    response = alice.client.post(f"{alice.prefix}/jobs/{job.pk}/compare/", {"models": models})
    assert response.status_code == 302
    assert Generation.objects.count() == 1


def test_the_job_page_offers_models_and_the_api_call(alice, make_job):
    job = make_job(alice, prompt="a red fox")
    page = alice.client.get(f"{alice.prefix}/compare/", {"g": job.pk}).content.decode()
    assert "Try on other models" in page
    assert 'value="gemini-3-pro-image-preview"' in page
    assert "$PIXDASH_API_KEY" in page
    assert "client.images.generate(" in page
    assert "/v1/images/generations" in page


def test_run_again_submits_the_same_request(alice, make_job, ui_queue):
    job = make_job(alice, prompt="a red fox", n=3, size="16:9")
    response = alice.client.post(f"{alice.prefix}/jobs/{job.pk}/rerun/")
    assert response.status_code == 302
    again = Generation.objects.exclude(pk=job.pk).get()
    assert (again.prompt, again.n, again.aspect_ratio) == ("a red fox", 3, "16:9")
    assert ui_queue == [again.pk]


def test_another_teams_jobs_are_not_found(alice, charlie, make_job, ui_queue):
    job = make_job(alice)
    assert charlie.client.get(f"{charlie.prefix}/compare/", {"g": job.pk}).status_code == 404
    assert charlie.client.post(f"{charlie.prefix}/jobs/{job.pk}/rerun/").status_code == 404
    response = charlie.client.post(
        f"{charlie.prefix}/jobs/{job.pk}/compare/", {"models": ["local-preview"]}
    )
    assert response.status_code == 404
    assert Generation.objects.count() == 1


def test_the_column_cards_poll_with_htmx(alice, make_job):
    job = make_job(alice, run=False)
    html = alice.client.get(f"{alice.prefix}/jobs/{job.pk}/", headers=HX).content.decode()
    assert f'hx-get="{alice.prefix}/jobs/' in html
