"""GET /images/<id>/original and /thumbnail: for members of the owning team only."""

PNG = b"\x89PNG\r\n\x1a\n"


def test_members_get_the_original_and_the_webp_thumbnail(alice, bob, make_job):
    image = make_job(alice).outputs.get()
    original = bob.client.get(f"/images/{image.pk}/original")
    assert original.status_code == 200
    assert original["Content-Type"] == "image/png"
    assert original["X-Content-Type-Options"] == "nosniff"
    assert original.content.startswith(PNG)
    thumb = alice.client.get(f"/images/{image.pk}/thumbnail")
    assert thumb["Content-Type"] == "image/webp"
    assert thumb.content[8:12] == b"WEBP"
    download = alice.client.get(f"/images/{image.pk}/original", {"download": "1"})
    assert download["Content-Disposition"].startswith("attachment;")


def test_other_teams_and_anonymous_visitors_get_nothing(alice, charlie, make_job, client):
    image = make_job(alice).outputs.get()
    assert charlie.client.get(f"/images/{image.pk}/original").status_code == 404
    assert charlie.client.get(f"/images/{image.pk}/thumbnail").status_code == 404
    assert client.get(f"/images/{image.pk}/original").status_code == 302  # to log in


def test_a_deleted_image_is_a_404_until_restored(alice, make_job):
    image = make_job(alice).outputs.get()
    prefix = f"/t/{alice.team.slug}"
    assert alice.client.post(f"{prefix}/images/{image.pk}/delete/").status_code in (200, 302)

    assert alice.client.get(f"/images/{image.pk}/original").status_code == 404
    assert alice.client.get(f"/images/{image.pk}/thumbnail").status_code == 404

    alice.client.post(f"{prefix}/images/{image.pk}/restore/")
    assert alice.client.get(f"/images/{image.pk}/original").status_code == 200
