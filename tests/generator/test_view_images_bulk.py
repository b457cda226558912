"""POST /images/bulk/ (favourite, unfavourite, delete several; undo), GET
/images/download.zip (their originals)."""

import io
import zipfile

from generator.models import OutputImage


def test_bulk_favourite_and_unfavourite(alice, make_job):
    ids = list(make_job(alice, n=3).outputs.values_list("pk", flat=True))
    response = alice.client.post(
        f"{alice.prefix}/images/bulk/", {"action": "favourite", "ids": ids[:2]}, follow=True
    )
    assert "2 images added to favourites." in response.content.decode()
    assert OutputImage.objects.filter(favourite=True).count() == 2
    alice.client.post(f"{alice.prefix}/images/bulk/", {"action": "unfavourite", "ids": ids})
    assert not OutputImage.objects.filter(favourite=True).exists()


def test_bulk_delete_and_undo(alice, make_job):
    ids = list(make_job(alice, n=3).outputs.values_list("pk", flat=True))
    response = alice.client.post(f"{alice.prefix}/images/bulk/", {"action": "delete", "ids": ids})
    assert response["Location"] == f"{alice.prefix}/gallery/?deleted_many=3"
    page = alice.client.get(response["Location"]).content.decode()
    assert "3 images deleted." in page
    assert f'action="{alice.prefix}/images/restore/"' in page
    assert OutputImage.objects.filter(deleted_at__isnull=False).count() == 3
    alice.client.post(f"{alice.prefix}/images/restore/")
    assert OutputImage.objects.filter(deleted_at__isnull=True).count() == 3


def test_an_unknown_action_or_nothing_selected_changes_nothing(alice, make_job):
    ids = list(make_job(alice).outputs.values_list("pk", flat=True))
    for data in ({"action": "explode", "ids": ids}, {"action": "delete"}, {"ids": ["x"]}):
        response = alice.client.post(f"{alice.prefix}/images/bulk/", data, follow=True)
        assert "Select some images and an action." in response.content.decode()
    assert OutputImage.objects.get().deleted_at is None


def test_the_zip_holds_the_selected_originals(alice, make_job):
    job = make_job(alice, n=2)
    images = list(job.outputs.order_by("index"))
    response = alice.client.get(f"{alice.prefix}/images/download.zip", {"ids": [images[1].pk]})
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    (name,) = archive.namelist()
    assert name.startswith(f"gen_{job.public_id}-1.")
    with images[1].file.open("rb") as handle:
        assert archive.read(name) == handle.read()


def test_another_teams_images_are_never_touched_or_zipped(alice, charlie, make_job):
    ids = list(make_job(alice, n=2).outputs.values_list("pk", flat=True))
    charlie.client.post(f"{charlie.prefix}/images/bulk/", {"action": "delete", "ids": ids})
    charlie.client.post(f"{charlie.prefix}/images/bulk/", {"action": "favourite", "ids": ids})
    assert not OutputImage.objects.filter(deleted_at__isnull=False).exists()
    assert not OutputImage.objects.filter(favourite=True).exists()
    response = charlie.client.get(f"{charlie.prefix}/images/download.zip", {"ids": ids})
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist() == []
