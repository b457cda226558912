"""POST /v1/images/edits: multipart uploads, checked before anything is held or stored.

The provider is fake_gemini; uploads are built in memory. The money invariants are
checked after every test in this file.
"""

import io
import re
import struct
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from billing import ledger
from generator.models import Generation, InputImage
from tests.generator.conftest import assert_error, png_bytes

URL = "/v1/images/edits"

pytestmark = pytest.mark.usefixtures("audit_ledger")


def upload(data: bytes | None = None, name: str = "photo.png", content_type="image/png"):
    return SimpleUploadedFile(name, png_bytes() if data is None else data, content_type)


def edit(client, key, files: dict, **fields):
    data = {"model": "nano-banana", "prompt": "make it blue", **fields, **files}
    return client.post(URL, data=data, headers=key.headers if key else {})


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart body built by hand, so a part can carry any filename."""
    boundary = "pixdash-test-boundary"
    lines = []
    for name, value in fields.items():
        lines += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{name}"'.encode(),
            b"",
            value.encode(),
        ]
    for name, filename, data in files:
        lines += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{name}"; filename="{filename}"'.encode(),
            b"Content-Type: image/png",
            b"",
            data,
        ]
    lines += [f"--{boundary}--".encode(), b""]
    return b"\r\n".join(lines), f"multipart/form-data; boundary={boundary}"


def assert_nothing_happened(person, fake_gemini):
    assert fake_gemini.calls == []
    assert not Generation.objects.exists()
    assert not InputImage.objects.exists()
    assert ledger.balance(person.team) == Decimal("100.00")


def chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def bomb_png(side: int = 10_000) -> bytes:
    """A valid 1-bit greyscale PNG of side x side pixels that compresses to a few KB."""
    rows = (b"\x00" + b"\x00" * ((side + 7) // 8)) * side
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


# --- Accepted uploads ----------------------------------------------------------------


def test_one_image_sent_as_image_is_edited(client, alice, alice_key, fake_gemini):
    response = edit(client, alice_key, {"image": upload()})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"].startswith("gen_")
    assert body["model"] == "gemini-2.5-flash-image"
    assert body["usage"] == {"images": 1, "credits": "2.00"}
    assert len(body["data"]) == 1 and body["data"][0]["url"]
    (call,) = fake_gemini.calls
    assert call.prompt == "make it blue"
    assert len(call.images) == 1
    assert (call.images[0].width, call.images[0].height) == (64, 64)
    assert ledger.balance(alice.team) == Decimal("98.00")


def test_three_images_sent_as_repeated_image_brackets_are_all_used(client, alice_key, fake_gemini):
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    files = {"image[]": [upload(png_bytes(color=c), f"{i}.png") for i, c in enumerate(colors)]}

    response = edit(client, alice_key, files)

    assert response.status_code == 200, response.content
    (call,) = fake_gemini.calls
    assert len(call.images) == 3
    assert [Image.open(io.BytesIO(i.data)).getpixel((0, 0)) for i in call.images] == colors


def test_three_images_sent_as_indexed_fields_keep_their_order(client, alice_key, fake_gemini):
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    # Sent out of order: image[2] first. The index decides the order, not the wire.
    files = {f"image[{i}]": upload(png_bytes(color=colors[i]), f"{i}.png") for i in (2, 0, 1)}

    response = edit(client, alice_key, files)

    assert response.status_code == 200, response.content
    (call,) = fake_gemini.calls
    assert [Image.open(io.BytesIO(i.data)).getpixel((0, 0)) for i in call.images] == colors
    positions = InputImage.objects.filter(role=InputImage.Role.IMAGE).values_list(
        "position", flat=True
    )
    assert sorted(positions) == [0, 1, 2]


def test_a_mask_the_size_of_the_image_is_accepted(client, alice_key, fake_gemini):
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")

    response = edit(client, alice_key, {"image": upload(), "mask": upload(buffer.getvalue())})

    assert response.status_code == 200, response.content
    (call,) = fake_gemini.calls
    assert call.mask is not None
    assert (call.mask.width, call.mask.height) == (64, 64)
    assert InputImage.objects.filter(role=InputImage.Role.MASK).count() == 1


def test_form_fields_are_validated_like_json_ones(client, alice, alice_key, fake_gemini):
    response = edit(client, alice_key, {"image": upload()}, n="3", size="16:9")

    assert response.status_code == 200, response.content
    assert response.json()["usage"] == {"images": 3, "credits": "6.00"}
    assert {(c.width, c.height) for c in fake_gemini.calls} == {(1344, 768)}


def test_another_teams_edit_is_stored_and_charged_under_that_team(
    client, alice, charlie, charlie_key, fake_gemini
):
    response = edit(client, charlie_key, {"image": upload()})

    assert response.status_code == 200, response.content
    stored = InputImage.objects.get()
    assert stored.generation.team == charlie.team
    assert stored.file.name.startswith(f"inputs/{charlie.team.pk}/")
    assert ledger.balance(charlie.team) == Decimal("98.00")
    assert ledger.balance(alice.team) == Decimal("100.00")


def test_the_type_is_sniffed_from_the_bytes_not_the_name_or_part_type(
    client, alice_key, fake_gemini
):
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 128, 0)).save(jpeg, "JPEG")

    response = edit(client, alice_key, {"image": upload(jpeg.getvalue(), "notes.txt", "text/html")})

    assert response.status_code == 200, response.content
    (call,) = fake_gemini.calls
    assert call.images[0].data.startswith(b"\x89PNG")  # re-encoded before upstream use


# --- Refused uploads -----------------------------------------------------------------


def test_a_mask_of_another_size_is_a_400(client, alice, alice_key, fake_gemini):
    response = edit(client, alice_key, {"image": upload(), "mask": upload(png_bytes(32, 32))})

    assert_error(response, 400, "invalid_request_error", "mask")
    assert_nothing_happened(alice, fake_gemini)


def test_four_images_for_nano_banana_are_a_400(client, alice, alice_key, fake_gemini):
    files = {"image[]": [upload(name=f"{i}.png") for i in range(4)]}

    response = edit(client, alice_key, files)

    error = assert_error(response, 400, "invalid_request_error", "image")
    assert "at most 3" in error["message"]
    assert_nothing_happened(alice, fake_gemini)


def test_a_100_megapixel_png_of_a_few_kb_is_a_400_before_decode(
    client, alice, alice_key, fake_gemini, monkeypatch
):
    bomb = bomb_png()
    assert len(bomb) < 64 * 1024

    def no_decode(self, *args, **kwargs):
        raise AssertionError("the bomb was decoded")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decode)

    response = edit(client, alice_key, {"image": upload(bomb)})

    error = assert_error(response, 400, "invalid_request_error", "image")
    assert "megapixels" in error["message"]
    assert_nothing_happened(alice, fake_gemini)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<!doctype html><html><script>alert(1)</script></html>", "x.png"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" '
            b'height="64"><script>alert(1)</script></svg>',
            "x.png",
        ),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "x.svg"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "x.png"),
        (b"", "empty.png"),
    ],
)
def test_a_file_that_is_not_png_jpeg_or_webp_is_a_400(
    client, alice, alice_key, fake_gemini, data, name
):
    response = edit(client, alice_key, {"image": upload(data, name)})

    assert_error(response, 400, "invalid_request_error", "image")
    assert_nothing_happened(alice, fake_gemini)


def test_a_truncated_png_is_a_400(client, alice, alice_key, fake_gemini):
    data = png_bytes(256, 256)

    response = edit(client, alice_key, {"image": upload(data[: len(data) // 2])})

    assert_error(response, 400, "invalid_request_error", "image")
    assert_nothing_happened(alice, fake_gemini)


def test_a_bad_second_image_names_its_field(client, alice, alice_key, fake_gemini):
    files = {"image[0]": upload(), "image[1]": upload(b"<html></html>", "x.png")}

    response = edit(client, alice_key, files)

    assert_error(response, 400, "invalid_request_error", "image[1]")
    assert_nothing_happened(alice, fake_gemini)


def test_no_image_is_a_400(client, alice, alice_key, fake_gemini):
    response = edit(client, alice_key, {})

    assert_error(response, 400, "invalid_request_error", "image")
    assert_nothing_happened(alice, fake_gemini)


def test_a_json_body_without_images_is_a_400(client, alice, alice_key, fake_gemini):
    # JSON edits carry image URLs (see test_api_json_edits.py); without any, nothing runs.
    response = client.post(
        URL,
        data={"model": "nano-banana", "prompt": "make it blue"},
        content_type="application/json",
        headers=alice_key.headers,
    )

    assert_error(response, 400, "invalid_request_error", "images")
    assert_nothing_happened(alice, fake_gemini)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": ""}, "prompt"),
        ({"n": "0"}, "n"),
        ({"n": "11"}, "n"),
        ({"api_base": "x"}, "api_base"),
    ],
)
def test_bad_form_fields_are_a_400_naming_the_field(
    client, alice, alice_key, fake_gemini, fields, param
):
    response = edit(client, alice_key, {"image": upload()}, **fields)

    assert_error(response, 400, "invalid_request_error", param)
    assert_nothing_happened(alice, fake_gemini)


def test_a_file_over_20_mb_is_a_413(client, alice, alice_key, fake_gemini):
    big = png_bytes() + b"\x00" * (20 * 1024 * 1024)

    response = edit(client, alice_key, {"image": upload(big)})

    assert_error(response, 413, "request_too_large", "image")
    assert_nothing_happened(alice, fake_gemini)


def test_a_body_over_the_upload_limit_is_a_413_before_parsing(
    client, alice, alice_key, fake_gemini, settings
):
    settings.PIXDASH_MAX_UPLOAD_BYTES = 1024

    response = edit(client, alice_key, {"image": upload(png_bytes(256, 256))})

    assert_error(response, 413, "request_too_large")
    assert_nothing_happened(alice, fake_gemini)


def test_it_401s_without_a_key(client, alice, fake_gemini):
    response = edit(client, None, {"image": upload()})

    assert_error(response, 401, "invalid_api_key")
    assert_nothing_happened(alice, fake_gemini)


# --- What is stored ------------------------------------------------------------------


def test_exif_is_stripped_from_the_stored_input(client, alice_key, fake_gemini):
    exif = Image.Exif()
    exif[ExifTags.Base.Artist] = "Alice Secret"
    exif[ExifTags.Base.Make] = "SpyCam"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(buffer, "JPEG", exif=exif)
    assert b"Alice Secret" in buffer.getvalue()

    response = edit(client, alice_key, {"image": upload(buffer.getvalue(), "photo.jpg")})

    assert response.status_code == 200, response.content
    stored = InputImage.objects.get()
    with stored.file.open("rb") as handle:
        data = handle.read()
    assert b"Alice Secret" not in data and b"SpyCam" not in data
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert "exif" not in image.info
    assert not image.getexif()
    assert b"Alice Secret" not in fake_gemini.calls[0].images[0].data


def test_the_stored_input_name_is_generated_not_taken_from_the_upload(
    client, alice, alice_key, fake_gemini
):
    body, content_type = multipart(
        {"model": "nano-banana", "prompt": "make it blue"},
        [("image", "../../etc/passwd.png", png_bytes())],
    )

    response = client.post(URL, data=body, content_type=content_type, headers=alice_key.headers)

    assert response.status_code == 200, response.content
    stored = InputImage.objects.get()
    generation = stored.generation
    assert re.fullmatch(
        rf"inputs/{alice.team.pk}/{generation.public_id}-image-0\.png", stored.file.name
    )
    media_root = Path(settings.MEDIA_ROOT).resolve()
    assert Path(stored.file.path).resolve().is_relative_to(media_root)
    assert "passwd" not in stored.file.name


def test_a_mask_over_20_mb_is_a_413(client, alice, alice_key, fake_gemini):
    big = png_bytes() + b"\x00" * (20 * 1024 * 1024)

    response = edit(client, alice_key, {"image": upload(), "mask": upload(big, "mask.png")})

    assert_error(response, 413, "request_too_large", "mask")
    assert_nothing_happened(alice, fake_gemini)


def test_an_image_field_with_a_non_ascii_digit_index_is_ignored_not_a_500(
    client, alice, alice_key, fake_gemini
):
    # "²".isdigit() is True but int("²") raises: only ASCII indexes name images.
    response = edit(client, alice_key, {"image[²]": upload(), "image[0]": upload()})

    assert response.status_code == 200, response.content
    (call,) = fake_gemini.calls
    assert len(call.images) == 1


def test_only_a_non_ascii_index_means_no_image_a_400(client, alice, alice_key, fake_gemini):
    response = edit(client, alice_key, {"image[²]": upload()})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "image"
