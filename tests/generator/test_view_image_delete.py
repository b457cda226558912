"""POST /images/<id>/delete/ (soft) and /restore/ (undo)."""

from generator.models import OutputImage

HX = {"HX-Request": "true"}


def test_delete_is_soft_and_undo_brings_it_back(alice, make_job):
    image = make_job(alice).outputs.get()
    response = alice.client.post(f"{alice.prefix}/images/{image.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == f"{alice.prefix}/gallery/?deleted={image.pk}"
    stored = OutputImage.objects.get(pk=image.pk)
    assert stored.deleted_at is not None
    assert stored.file.storage.exists(stored.file.name)  # files are kept for undo

    response = alice.client.post(f"{alice.prefix}/images/{image.pk}/restore/")
    assert response.status_code == 302
    assert OutputImage.objects.get(pk=image.pk).deleted_at is None


def test_htmx_swaps_the_tile_for_an_undo_and_back(alice, make_job):
    image = make_job(alice).outputs.get()
    html = alice.client.post(
        f"{alice.prefix}/images/{image.pk}/delete/", headers=HX
    ).content.decode()
    assert "<html" not in html and "Undo" in html
    html = alice.client.post(
        f"{alice.prefix}/images/{image.pk}/restore/", headers=HX
    ).content.decode()
    assert f'src="/images/{image.pk}/thumbnail"' in html


def test_another_teams_image_is_not_found(alice, charlie, make_job):
    image = make_job(alice).outputs.get()
    assert (
        charlie.client.post(f"{charlie.prefix}/images/{image.pk}/delete/", headers=HX).status_code
        == 404
    )
    assert OutputImage.objects.get(pk=image.pk).deleted_at is None
    alice.client.post(f"{alice.prefix}/images/{image.pk}/delete/")
    assert (
        charlie.client.post(f"{charlie.prefix}/images/{image.pk}/restore/", headers=HX).status_code
        == 404
    )
    assert OutputImage.objects.get(pk=image.pk).deleted_at is not None
