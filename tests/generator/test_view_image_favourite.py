"""POST /images/<id>/favourite/: an htmx toggle with a plain-form fallback."""

from generator.models import OutputImage

HX = {"HX-Request": "true"}


def test_htmx_toggles_and_returns_the_button(alice, bob, make_job):
    image = make_job(alice).outputs.get()
    response = bob.client.post(f"{bob.prefix}/images/{image.pk}/favourite/", headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'aria-pressed="true"' in html
    assert OutputImage.objects.get(pk=image.pk).favourite
    bob.client.post(f"{bob.prefix}/images/{image.pk}/favourite/", headers=HX)
    assert not OutputImage.objects.get(pk=image.pk).favourite


def test_without_htmx_it_redirects_back(alice, make_job):
    image = make_job(alice).outputs.get()
    response = alice.client.post(
        f"{alice.prefix}/images/{image.pk}/favourite/", {"next": f"{alice.prefix}/gallery/"}
    )
    assert response.status_code == 302 and response["Location"] == f"{alice.prefix}/gallery/"
    response = alice.client.post(
        f"{alice.prefix}/images/{image.pk}/favourite/", {"next": "//evil.example/"}
    )
    assert response["Location"] == f"{alice.prefix}/images/{image.pk}/"


def test_another_teams_image_is_not_found(alice, charlie, make_job):
    image = make_job(alice).outputs.get()
    assert (
        charlie.client.post(
            f"{charlie.prefix}/images/{image.pk}/favourite/", headers=HX
        ).status_code
        == 404
    )
    assert not OutputImage.objects.get(pk=image.pk).favourite
