"""Team pages live under /t/<team slug>/: the page's team is the URL's, not the session's;
addresses without a team redirect to the user's team, and another team's pages explain."""

from asgiref.sync import async_to_sync

from generator import jobs
from generator.models import OutputImage, Source
from pixdash.accounts.teams import create_team


def _image(person) -> OutputImage:
    """An image of the person's team, made by the real pipeline (offline renderer)."""
    spec = jobs.GenerationSpec(model="local-preview", prompt="team urls", size="256x256")
    submission = jobs.submit(
        team=person.team, spec=spec, source=Source.UI, is_async=False, user=person.user
    )
    async_to_sync(jobs.run_now)(submission)
    generation = submission.generation
    return OutputImage.objects.get(generation=generation)


def test_a_team_page_acts_for_the_team_in_its_address(alice):
    side = create_team(owner=alice.user, name="Side project")
    alice.user.current_team = alice.team
    alice.user.save()
    html = alice.client.get(f"/t/{side.slug}/team/").content.decode()
    assert "<h1>Side project</h1>" in html


def test_opening_a_team_page_makes_it_the_team_home_opens(alice):
    side = create_team(owner=alice.user, name="Side project")
    alice.client.get(f"{alice.prefix}/gallery/")
    assert alice.client.get("/")["Location"] == f"{alice.prefix}/"
    alice.client.get(f"/t/{side.slug}/gallery/")
    assert alice.client.get("/")["Location"] == f"/t/{side.slug}/"


def test_the_pages_of_a_team_you_are_not_in_explain_and_answer_404(alice, charlie):
    response = charlie.client.get(f"{alice.prefix}/gallery/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page belongs to a team you are not in" in html
    assert f'href="{charlie.prefix}/">Globex</a>' in html
    assert "Acme" not in html


def test_an_unknown_team_answers_404(alice):
    assert alice.client.get("/t/no-such-team/gallery/").status_code == 404


def test_old_addresses_redirect_to_the_same_page_of_your_team(alice):
    response = alice.client.get("/gallery/", {"q": "fox", "model": "nano-banana"})
    assert response.status_code == 302
    assert response["Location"] == f"{alice.prefix}/gallery/?q=fox&model=nano-banana"
    assert alice.client.get("/billing/usage/")["Location"] == f"{alice.prefix}/billing/usage/"


def test_an_old_image_address_goes_to_the_team_that_owns_it(alice):
    image = _image(alice)
    side = create_team(owner=alice.user, name="Side project")  # now her current team
    response = alice.client.get(f"/images/{image.pk}/")
    assert response["Location"] == f"{alice.prefix}/images/{image.pk}/"
    assert side.slug not in response["Location"]


def test_an_old_image_address_of_a_team_you_are_not_in_finds_nothing(alice, charlie):
    image = _image(alice)
    response = charlie.client.get(f"/images/{image.pk}/", follow=True)
    assert response.redirect_chain == [(f"{charlie.prefix}/images/{image.pk}/", 302)]
    assert response.status_code == 404


def test_old_addresses_send_anonymous_visitors_to_log_in(client, db):
    response = client.get("/gallery/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/gallery/"


def test_old_addresses_redirect_reads_only(alice):
    # A form posted from a page loaded before the move: acting for "the current team"
    # is exactly what the team in the address prevents.
    assert alice.client.post("/generate/", {"prompt": "x"}).status_code == 405


def test_addresses_that_never_existed_answer_404(alice):
    assert alice.client.get("/no-such-page/").status_code == 404
    assert alice.client.get("/t/").status_code == 404
