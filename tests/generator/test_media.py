"""GET /media/signed/<token>: expiring links bound to one stored image and one file.

The images are made through the API (fake_gemini), so the links are the ones clients get.
A signed link is a bearer capability: the other-team case is that nobody can turn a link
to one image into a link to another.
"""

import io
import json
import time
import types

import pytest
from django.core import signing
from PIL import Image

from generator import media
from generator.models import OutputImage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_image(client, key, **fields) -> OutputImage:
    body = {"model": "nano-banana", "prompt": "a lighthouse", **fields}
    response = client.post(
        "/v1/images/generations",
        data=json.dumps(body),
        content_type="application/json",
        headers=key.headers,
    )
    assert response.status_code == 200, response.content
    return OutputImage.objects.get(generation__public_id=response.json()["id"][4:])


def token_of(path: str) -> str:
    prefix = "/media/signed/"
    assert path.startswith(prefix)
    return path.removeprefix(prefix)


def signed_at(monkeypatch, when: float, output: OutputImage, **kwargs) -> str:
    """A link signed at ``when`` (the signer reads the clock through django.core.signing)."""
    with monkeypatch.context() as patched:
        patched.setattr(signing, "time", types.SimpleNamespace(time=lambda: when))
        return media.signed_path(output, **kwargs)


@pytest.fixture
def output(client, alice_key, fake_gemini) -> OutputImage:
    return make_image(client, alice_key)


def test_a_valid_link_serves_the_image_with_its_sniffed_type(client, output):
    response = client.get(media.signed_path(output))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    assert response["Content-Disposition"].startswith("inline")
    assert response.content.startswith(PNG_SIGNATURE)
    with output.file.open("rb") as handle:
        assert response.content == handle.read()


@pytest.mark.parametrize(
    ("output_format", "content_type", "pillow_format"),
    [("jpeg", "image/jpeg", "JPEG"), ("webp", "image/webp", "WEBP")],
)
def test_other_output_formats_are_served_as_what_they_are(
    client, alice_key, fake_gemini, output_format, content_type, pillow_format
):
    output = make_image(client, alice_key, output_format=output_format)

    response = client.get(media.signed_path(output))

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(response.content)).format == pillow_format


def test_a_thumbnail_link_serves_webp(client, output):
    response = client.get(media.signed_path(output, thumbnail=True))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    thumbnail = Image.open(io.BytesIO(response.content))
    assert thumbnail.format == "WEBP"
    assert max(thumbnail.size) <= 512


def test_a_link_needs_no_session_or_key(output):
    from django.test import Client

    assert Client().get(media.signed_path(output)).status_code == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature
        lambda token: token.replace(":", ";", 1),
        lambda token: token.rsplit(":", 1)[0],  # signature dropped
        lambda token: token.split(":", 1)[0],  # bare value, no timestamp or signature
        lambda token: "x" + token,
    ],
)
def test_a_tampered_token_is_a_404(client, output, tamper):
    token = token_of(media.signed_path(output))

    response = client.get(f"/media/signed/{tamper(token)}")

    assert response.status_code == 404
    assert not response.content.startswith(PNG_SIGNATURE)


def test_the_first_tokens_signature_on_another_image_id_is_a_404(
    client, alice_key, charlie_key, fake_gemini
):
    mine = make_image(client, alice_key)
    theirs = make_image(client, charlie_key)
    token = token_of(media.signed_path(mine))
    value, stamp, signature = token.split(":")
    assert value == f"{mine.pk}.o"

    forged = f"{theirs.pk}.o:{stamp}:{signature}"
    response = client.get(f"/media/signed/{forged}")

    assert response.status_code == 404
    assert client.get(media.signed_path(theirs)).status_code == 200  # the real link works


def test_an_original_links_signature_does_not_open_the_thumbnail(client, output):
    value, stamp, signature = token_of(media.signed_path(output)).split(":")

    response = client.get(f"/media/signed/{value[:-1]}t:{stamp}:{signature}")

    assert response.status_code == 404


def test_an_expired_link_is_a_403(client, output, settings, monkeypatch):
    settings.PIXDASH_MEDIA_URL_TTL = 60
    path = signed_at(monkeypatch, time.time() - 61, output)

    response = client.get(path)

    assert response.status_code == 403
    assert not response.content.startswith(PNG_SIGNATURE)


def test_a_link_within_its_lifetime_still_works(client, output, settings, monkeypatch):
    settings.PIXDASH_MEDIA_URL_TTL = 60
    path = signed_at(monkeypatch, time.time() - 50, output)

    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "value",
    ["2000000000.o", "{pk}.x", "{pk}", "not-a-pk.o", "-1.o", "\u00b2.o", "9" * 30 + ".o", ".o"],
)
def test_a_validly_signed_value_that_names_no_image_is_a_404(client, output, value):
    # Only the server can sign, but a link from another format or key era must not 500.
    signer = signing.TimestampSigner(salt="pixdash.media.v1")

    response = client.get(f"/media/signed/{signer.sign(value.format(pk=output.pk))}")

    assert response.status_code == 404


def test_a_link_signed_for_another_purpose_is_a_404(client, output):
    other = signing.TimestampSigner(salt="pixdash.something.else").sign(f"{output.pk}.o")

    assert client.get(f"/media/signed/{other}").status_code == 404


def test_a_link_whose_file_is_gone_is_a_404(client, output):
    path = media.signed_path(output)
    output.file.delete(save=False)

    assert client.get(path).status_code == 404


def test_posting_to_a_link_is_a_405(client, output):
    assert client.post(media.signed_path(output)).status_code == 405


def test_a_deleted_images_links_are_404s(client, output):
    original = media.signed_path(output)
    thumbnail = media.signed_path(output, thumbnail=True)
    assert client.get(original).status_code == 200
    output.deleted_at = output.created_at
    output.save()

    assert client.get(original).status_code == 404
    assert client.get(thumbnail).status_code == 404
