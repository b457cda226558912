"""Media on S3-compatible storage (PIXDASH_S3_BUCKET), against moto's server mode.

Originals, thumbnails and uploaded inputs land in the bucket; API answers carry presigned
URLs straight to it, and the dashboard's member-only paths redirect to such URLs after
checking membership. Every image is fetched from the bucket over HTTP, as a client would.
"""

import base64
import io
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generator.models import InputImage, OutputImage
from tests.generator.conftest import png_bytes, post_generation

PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.usefixtures("s3_media")


def test_api_answers_carry_presigned_links_straight_to_the_bucket(
    client, alice_key, fake_gemini, moto_s3, s3_media
):
    response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "x", "n": 2})

    assert response.status_code == 200, response.content
    urls = [item["url"] for item in response.json()["data"]]
    for url in urls:
        assert url.startswith(f"{moto_s3.url}/{s3_media}/outputs/")
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Expires"] == ["3600"]  # PIXDASH_MEDIA_URL_TTL
        fetched = httpx.get(url)
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == "image/png"
        assert fetched.content.startswith(PNG)
    stored = OutputImage.objects.filter(team=alice_key.api_key.team)
    # A sync request stores originals only; thumbnails are made when a page first shows them.
    assert moto_s3.keys(s3_media) == {o.file.name for o in stored}


def test_a_sync_api_images_thumbnail_is_made_in_the_bucket_when_first_shown(
    client, alice, alice_key, fake_gemini, moto_s3, s3_media
):
    post_generation(client, alice_key, {"model": "nano-banana", "prompt": "x"})
    image = OutputImage.objects.get()
    assert not image.thumbnail

    thumb = httpx.get(alice.client.get(f"/images/{image.pk}/thumbnail")["Location"])

    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"
    image.refresh_from_db()
    assert moto_s3.keys(s3_media) == {image.file.name, image.thumbnail.name}


def test_the_bucket_refuses_a_link_whose_signature_was_altered(client, alice_key, fake_gemini):
    url = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "x"}).json()[
        "data"
    ][0]["url"]
    other = url.replace("outputs/", "thumbs/", 1)

    assert httpx.get(other).status_code == 403


def test_b64_json_answers_read_the_original_back_from_the_bucket(client, alice_key, fake_gemini):
    body = {"model": "nano-banana", "prompt": "x", "response_format": "b64_json"}
    response = post_generation(client, alice_key, body)

    data = base64.b64decode(response.json()["data"][0]["b64_json"])
    assert data.startswith(PNG)


def test_uploaded_inputs_are_stored_in_the_bucket(
    client, alice_key, fake_gemini, moto_s3, s3_media
):
    upload = SimpleUploadedFile("photo.png", png_bytes(80, 60), content_type="image/png")
    response = client.post(
        "/v1/images/edits",
        {"model": "nano-banana", "prompt": "make it blue", "image": upload},
        headers=alice_key.headers,
    )

    assert response.status_code == 200, response.content
    stored = InputImage.objects.get()
    assert stored.file.name in moto_s3.keys(s3_media)
    assert fake_gemini.calls[0].images[0].data.startswith(PNG)  # read back for the upstream


def test_member_paths_redirect_members_to_presigned_links(alice, bob, make_job, moto_s3):
    image = make_job(alice).outputs.get()

    original = bob.client.get(f"/images/{image.pk}/original")
    assert original.status_code == 302
    assert original["Location"].startswith(moto_s3.url)
    assert original["Cache-Control"] == "private, no-store"
    fetched = httpx.get(original["Location"])
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["content-disposition"].startswith("inline;")

    thumb = httpx.get(alice.client.get(f"/images/{image.pk}/thumbnail")["Location"])
    assert thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"

    download = alice.client.get(f"/images/{image.pk}/original", {"download": "1"})
    assert httpx.get(download["Location"]).headers["content-disposition"].startswith("attachment;")


def test_member_paths_404_for_another_team_before_any_link_is_made(alice, charlie, make_job):
    image = make_job(alice).outputs.get()

    assert charlie.client.get(f"/images/{image.pk}/original").status_code == 404
    assert charlie.client.get(f"/images/{image.pk}/thumbnail").status_code == 404


def test_our_own_signed_links_redirect_to_the_bucket(alice, make_job, moto_s3):
    from generator import media

    image = make_job(alice).outputs.get()
    response = alice.client.get(media.signed_path(image))

    assert response.status_code == 302
    assert httpx.get(response["Location"]).content.startswith(PNG)


def test_purged_images_leave_the_bucket(alice, make_job, moto_s3, s3_media):
    from datetime import timedelta

    from django.utils import timezone

    from generator import retention

    image = make_job(alice).outputs.get()
    alice.client.post(alice.url("image_delete", image.pk))
    assert len(moto_s3.keys(s3_media)) == 2

    retention.apply(now=timezone.now() + timedelta(days=2))

    assert moto_s3.keys(s3_media) == set()
    assert alice.client.get(f"/images/{image.pk}/original").status_code == 404
