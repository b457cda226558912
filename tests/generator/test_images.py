"""generator.images: what an upload must survive before it is stored or sent upstream.

Fixtures are built in memory with Pillow. pytest runs with filterwarnings=error, so any
DecompressionBombWarning (or other Pillow warning) escaping the module fails the test.
"""

import dataclasses
import hashlib
import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, PngImagePlugin

from generator import images
from generator.images import (
    ImageRejected,
    UploadedImage,
    convert_format,
    inspect_mask,
    inspect_upload,
    make_thumbnail,
    probe_output,
    sniff_mime,
)

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def halves(size=(64, 48), left=RED, right=BLUE, mode="RGB") -> Image.Image:
    """Left half one colour, right half another: makes orientation visible."""
    width, height = size
    image = Image.new(mode, size, left)
    image.paste(Image.new(mode, (width - width // 2, height), right), (width // 2, 0))
    return image


def png_chunks(data: bytes) -> list[bytes]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return chunks


def close(actual, expected, tolerance=12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


@pytest.fixture
def png_bytes() -> bytes:
    return encode(halves(), "PNG")


@pytest.fixture
def jpeg_bytes() -> bytes:
    return encode(halves(), "JPEG", quality=95)


@pytest.fixture
def webp_bytes() -> bytes:
    return encode(halves(mode="RGBA", left=(255, 0, 0, 255), right=(0, 0, 255, 0)), "WEBP")


@pytest.fixture
def no_decode(monkeypatch) -> list[str]:
    """Fails the test if pixel data is decoded: records (and refuses) every decode attempt.

    Recording matters: a module that swallowed the AssertionError into a 400 would
    otherwise look like it had never decoded.
    """
    calls: list[str] = []

    def refuse(name):
        def spy(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called: the image was decoded")

        return spy

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse("ImageFile.load"))
    monkeypatch.setattr(Image.Image, "load", refuse("Image.load"))
    monkeypatch.setattr(Image, "_getdecoder", refuse("Image._getdecoder"))
    return calls


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """10000x10000 = 100 megapixels, 1-bit, all black: a few KB on the wire, 100 MB+ of
    pixels once decoded as RGB. Pillow alone only warns at this size."""
    data = encode(Image.new("1", (10_000, 10_000)), "PNG", compress_level=9)
    assert len(data) < 64 * 1024
    return data


# -- sniffing ----------------------------------------------------------------------------


def test_sniff_recognises_the_three_types_by_magic_bytes(png_bytes, jpeg_bytes, webp_bytes):
    assert sniff_mime(png_bytes) == "image/png"
    assert sniff_mime(jpeg_bytes) == "image/jpeg"
    assert sniff_mime(webp_bytes) == "image/webp"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PN",
        b"<!DOCTYPE html><html><body>not an image</body></html>",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"hello, world\n",
    ],
)
def test_sniff_rejects_everything_else(data):
    assert sniff_mime(data) is None


# -- inspect_upload: the happy paths -------------------------------------------------------


@pytest.mark.parametrize("fixture", ["png_bytes", "jpeg_bytes", "webp_bytes"])
def test_valid_upload_is_reencoded_as_png(fixture, request):
    data = request.getfixturevalue(fixture)

    upload = inspect_upload(data, param="image")

    assert isinstance(upload, UploadedImage)
    assert upload.mime_type == "image/png"
    assert sniff_mime(upload.data) == "image/png"
    assert (upload.width, upload.height) == (64, 48)
    assert upload.sha256 == hashlib.sha256(upload.data).hexdigest()
    with Image.open(io.BytesIO(upload.data)) as out:
        assert out.size == (64, 48)
        assert close(out.getpixel((5, 24)), RED)
        assert close(out.getpixel((60, 24))[:3], BLUE)


def test_upload_result_is_frozen_and_deterministic(png_bytes):
    first = inspect_upload(png_bytes, param="image")
    second = inspect_upload(png_bytes, param="image")

    assert first == second
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.width = 1  # type: ignore[misc]


def test_alpha_is_kept_and_opaque_images_become_rgb(webp_bytes, png_bytes):
    with Image.open(io.BytesIO(inspect_upload(webp_bytes, param="image").data)) as out:
        assert out.mode == "RGBA"
        assert out.getpixel((60, 24))[3] == 0
    with Image.open(io.BytesIO(inspect_upload(png_bytes, param="image").data)) as out:
        assert out.mode == "RGB"


def test_palette_png_with_transparency_keeps_it():
    image = Image.new("P", (8, 8), 0)
    image.putpalette([255, 0, 0, 0, 0, 255])
    image.paste(1, (4, 0, 8, 8))
    data = encode(image, "PNG", transparency=1)

    with Image.open(io.BytesIO(inspect_upload(data, param="image").data)) as out:
        assert out.mode == "RGBA"
        assert out.getpixel((0, 0)) == (255, 0, 0, 255)
        assert out.getpixel((7, 7))[3] == 0


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    data = encode(Image.new("I;16", (4, 4), 32896), "PNG")  # 32896 / 257 = 128

    with Image.open(io.BytesIO(inspect_upload(data, param="image").data)) as out:
        assert out.getpixel((0, 0)) == (128, 128, 128)


# -- metadata ------------------------------------------------------------------------------


def exif_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Artist] = "Jane Secret"
    exif[ExifTags.Base.Make] = "SpyCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 1.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 2.0)
    data = encode(halves((40, 20)), "JPEG", quality=95, exif=exif)
    # The fixture really carries what the test says it does.
    with Image.open(io.BytesIO(data)) as check:
        assert check.getexif()[ExifTags.Base.Artist] == "Jane Secret"
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Jane Secret" in data
    return data


def test_exif_orientation_is_applied_and_all_exif_stripped():
    # Orientation 6: the camera was turned; viewers rotate 90 degrees clockwise.
    upload = inspect_upload(exif_jpeg(6), param="image")

    assert (upload.width, upload.height) == (20, 40)
    assert b"Jane Secret" not in upload.data
    assert b"SpyCam" not in upload.data
    assert b"Exif" not in upload.data
    assert not {b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"iCCP"} & set(png_chunks(upload.data))
    with Image.open(io.BytesIO(upload.data)) as out:
        assert out.size == (20, 40)
        assert not out.getexif()
        assert not out.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        # The left (red) half of the sensor image is now on top.
        assert close(out.getpixel((10, 5)), RED, tolerance=40)
        assert close(out.getpixel((10, 35)), BLUE, tolerance=40)


def test_png_text_icc_and_exif_chunks_are_stripped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret comment")
    info.add_itxt("Author", "secret author", zip=True)
    exif = Image.Exif()
    exif[ExifTags.Base.Artist] = "Jane Secret"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(halves(), "PNG", pnginfo=info, exif=exif, icc_profile=icc)
    assert {b"tEXt", b"iTXt", b"eXIf", b"iCCP"} <= set(png_chunks(data))

    upload = inspect_upload(data, param="image")

    assert png_chunks(upload.data) == [b"IHDR", b"IDAT", b"IEND"]
    assert b"secret" not in upload.data


# -- inspect_upload: rejections ---------------------------------------------------------------


def test_oversized_upload_is_413_before_anything_else(no_decode):
    # Size is checked first, so bytes of the right length with a PNG signature suffice.
    data = b"\x89PNG\r\n\x1a\n" + bytes(21 * 1024 * 1024 - 8)

    with pytest.raises(ImageRejected) as caught:
        inspect_upload(data, param="image[1]")

    assert caught.value.status == 413
    assert caught.value.code == "request_too_large"
    assert caught.value.param == "image[1]"
    assert "21 MB" in caught.value.message
    assert "20 MB" in caught.value.message
    assert no_decode == []


def test_size_limit_is_inclusive(png_bytes):
    inspect_upload(png_bytes, param="image", max_bytes=len(png_bytes))
    with pytest.raises(ImageRejected) as caught:
        inspect_upload(png_bytes, param="image", max_bytes=len(png_bytes) - 1)
    assert caught.value.status == 413


def test_100_megapixel_png_is_rejected_without_decoding(bomb_png, no_decode):
    with pytest.raises(ImageRejected) as caught:
        inspect_upload(bomb_png, param="image")

    assert caught.value.status == 400
    assert caught.value.code == "invalid_request_error"
    assert caught.value.param == "image"
    assert "10000x10000" in caught.value.message
    assert "40 megapixels" in caught.value.message
    assert no_decode == []


def test_pixel_bomb_beyond_pillows_error_threshold_is_still_our_400(request):
    # 2 x 10^8 pixels: Image.open would raise DecompressionBombError here.
    data = encode(Image.new("1", (20_000, 10_000)), "PNG", compress_level=9)
    no_decode = request.getfixturevalue("no_decode")  # armed after building the fixture

    with pytest.raises(ImageRejected) as caught:
        inspect_upload(data, param="image")

    assert caught.value.status == 400
    assert no_decode == []


def test_pixel_limit_is_inclusive(png_bytes):
    assert inspect_upload(png_bytes, param="image", max_pixels=64 * 48).width == 64
    with pytest.raises(ImageRejected, match="megapixels"):
        inspect_upload(png_bytes, param="image", max_pixels=64 * 48 - 1)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<!DOCTYPE html><html><script>alert(1)</script></html>", id="html"),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
            b'height="10"><script>alert(1)</script></svg>',
            id="svg",
        ),
        pytest.param(encode(Image.new("RGB", (8, 8)), "GIF"), id="gif"),
        pytest.param(encode(Image.new("RGB", (8, 8)), "BMP"), id="bmp"),
        pytest.param(b"", id="empty"),
        pytest.param(b"just some text", id="text"),
    ],
)
def test_non_images_and_other_formats_are_400(data, no_decode):
    with pytest.raises(ImageRejected) as caught:
        inspect_upload(data, param="image")

    assert caught.value.status == 400
    assert caught.value.param == "image"
    assert "must be a PNG, JPEG or WEBP image" in caught.value.message
    assert no_decode == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x89PNG\r\n\x1a\n<html>nope</html>", id="png-signature-then-html"),
        pytest.param(b"\xff\xd8\xff" + b"\x00" * 64, id="jpeg-signature-then-zeros"),
        pytest.param(b"RIFF\x24\x00\x00\x00WEBPVP8 garbage-garbage-garbage", id="webp-garbage"),
    ],
)
def test_right_signature_wrong_content_is_400(data):
    with pytest.raises(ImageRejected) as caught:
        inspect_upload(data, param="image")

    assert caught.value.status == 400
    assert "could not be decoded" in caught.value.message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_image_is_400(fmt):
    noisy = Image.merge("RGB", [Image.effect_noise((256, 256), 64)] * 3)
    data = encode(noisy, fmt)

    with pytest.raises(ImageRejected) as caught:
        inspect_upload(data[: len(data) // 2], param="image")

    assert caught.value.status == 400
    assert "could not be decoded" in caught.value.message


# -- masks -----------------------------------------------------------------------------------


@pytest.fixture
def image_upload(png_bytes) -> UploadedImage:
    return inspect_upload(png_bytes, param="image")


def test_mask_of_the_same_size_is_accepted_with_alpha(image_upload):
    mask = Image.new("RGBA", (64, 48), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 48))

    result = inspect_mask(encode(mask, "PNG"), image=image_upload)

    assert (result.width, result.height) == (64, 48)
    with Image.open(io.BytesIO(result.data)) as out:
        assert out.mode == "RGBA"
        assert out.getpixel((0, 0))[3] == 0
        assert out.getpixel((63, 0))[3] == 255


@pytest.mark.parametrize(
    "mask",
    [
        pytest.param(encode(Image.new("RGBA", (32, 24)), "PNG"), id="smaller"),
        pytest.param(encode(Image.new("RGBA", (48, 64)), "PNG"), id="rotated"),
        pytest.param(encode(Image.new("RGBA", (128, 96)), "PNG"), id="larger"),
        pytest.param(encode(Image.new("RGB", (64, 48)), "JPEG"), id="jpeg"),
        pytest.param(encode(Image.new("RGBA", (64, 48)), "WEBP"), id="webp"),
        pytest.param(b"<svg/>", id="svg"),
    ],
)
def test_bad_mask_is_400_naming_the_expected_size(image_upload, mask):
    with pytest.raises(ImageRejected) as caught:
        inspect_mask(mask, image=image_upload)

    assert caught.value.status == 400
    assert caught.value.param == "mask"
    assert caught.value.message == "'mask' must be a PNG the same size as the image (64x48)."


def test_oversized_mask_is_413(image_upload):
    with pytest.raises(ImageRejected) as caught:
        inspect_mask(b"\x89PNG\r\n\x1a\n" + bytes(21 * 1024 * 1024), image=image_upload)
    assert caught.value.status == 413


def test_mask_bomb_is_rejected_without_decoding(image_upload, bomb_png, no_decode):
    with pytest.raises(ImageRejected) as caught:
        inspect_mask(bomb_png, image=image_upload)
    assert caught.value.status == 400
    assert no_decode == []


# -- provider outputs ------------------------------------------------------------------------


def test_probe_output_reports_type_and_size(png_bytes, jpeg_bytes, webp_bytes):
    assert probe_output(png_bytes) == ("image/png", 64, 48)
    assert probe_output(jpeg_bytes) == ("image/jpeg", 64, 48)
    assert probe_output(webp_bytes) == ("image/webp", 64, 48)


@pytest.mark.parametrize(
    "data",
    [b"", b"<html>rate limited</html>", b'{"error": "oops"}', b"\x89PNG\r\n\x1a\nbroken"],
)
def test_probe_output_rejects_garbage(data):
    with pytest.raises(ImageRejected):
        probe_output(data)


def test_probe_output_rejects_truncated_data(png_bytes):
    noisy = encode(Image.effect_noise((128, 128), 64), "PNG")
    with pytest.raises(ImageRejected, match="could not be decoded"):
        probe_output(noisy[: len(noisy) // 2])


def test_probe_output_checks_pixels_before_decode(bomb_png, no_decode):
    with pytest.raises(ImageRejected, match="megapixels"):
        probe_output(bomb_png)
    assert no_decode == []


# -- thumbnails ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "fmt", "expected"),
    [
        ((2000, 1000), "PNG", (512, 256)),
        ((1000, 2000), "JPEG", (256, 512)),
        ((1024, 1024), "WEBP", (512, 512)),
        ((100, 50), "PNG", (100, 50)),  # never enlarged
    ],
)
def test_thumbnail_is_webp_within_max_side_keeping_aspect(size, fmt, expected):
    data = make_thumbnail(encode(halves(size), fmt))

    assert sniff_mime(data) == "image/webp"
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == expected
        assert thumb.getexif() == {}


def test_thumbnail_honours_max_side_and_keeps_alpha():
    image = halves((300, 200), left=(255, 0, 0, 255), right=(0, 0, 255, 0), mode="RGBA")

    data = make_thumbnail(encode(image, "PNG"), max_side=90)

    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (90, 60)
        assert thumb.mode == "RGBA"
        assert thumb.getpixel((80, 30))[3] == 0
        assert thumb.getpixel((5, 30))[3] == 255


def test_thumbnail_applies_exif_orientation():
    with Image.open(io.BytesIO(make_thumbnail(exif_jpeg(6), max_side=20))) as thumb:
        assert thumb.size == (10, 20)
        assert close(thumb.getpixel((5, 2)), RED, tolerance=60)


def test_thumbnail_rejects_garbage_and_bombs(bomb_png, no_decode):
    with pytest.raises(ImageRejected):
        make_thumbnail(b"<html></html>")
    with pytest.raises(ImageRejected, match="megapixels"):
        make_thumbnail(bomb_png)
    assert no_decode == []


# -- format conversion -----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("target", ["png", "jpeg", "webp"])
def test_convert_format_round_trips(source, target):
    original = encode(halves(), source, **({"quality": 95} if source != "PNG" else {}))

    data, mime = convert_format(original, output_format=target)

    assert mime == f"image/{target}"
    assert sniff_mime(data) == mime
    if source.lower() == target:
        assert data is original  # already that format: untouched
    back, back_mime = convert_format(data, output_format="png")
    assert back_mime == "image/png"
    with Image.open(io.BytesIO(back)) as out:
        assert out.size == (64, 48)
        assert close(out.getpixel((5, 24)), RED, tolerance=20)
        assert close(out.getpixel((60, 24)), BLUE, tolerance=20)


def test_convert_to_jpeg_flattens_alpha_onto_white():
    image = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 8, 16))

    data, mime = convert_format(encode(image, "PNG"), output_format="jpeg")

    assert mime == "image/jpeg"
    with Image.open(io.BytesIO(data)) as out:
        assert out.mode == "RGB"
        assert close(out.getpixel((14, 8)), (255, 255, 255))
        assert close(out.getpixel((2, 8)), RED, tolerance=20)


def test_convert_to_png_and_webp_keeps_alpha():
    image = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    source = encode(image, "PNG")
    for target in ("webp", "png"):
        data, _ = convert_format(encode(image, "WEBP"), output_format=target)
        with Image.open(io.BytesIO(data)) as out:
            assert out.mode == "RGBA"
            assert out.getpixel((8, 8))[3] == 0
    assert convert_format(source, output_format="PNG")[0] is source  # case-insensitive


def test_convert_strips_exif_and_applies_orientation():
    data, _ = convert_format(exif_jpeg(6), output_format="webp")

    assert b"Jane Secret" not in data
    with Image.open(io.BytesIO(data)) as out:
        assert out.size == (20, 40)
        assert not out.getexif()


def test_convert_rejects_unknown_formats_and_garbage(png_bytes):
    with pytest.raises(ValueError, match="png, jpeg or webp"):
        convert_format(png_bytes, output_format="gif")
    with pytest.raises(ImageRejected):
        convert_format(b"<html></html>", output_format="png")


# -- the module's own promises -------------------------------------------------------------------


def test_image_rejected_defaults():
    error = ImageRejected("nope")
    assert (error.message, error.param, error.status, str(error)) == ("nope", None, 400, "nope")


def test_module_does_not_lower_pillows_global_limits():
    assert Image.MAX_IMAGE_PIXELS is not None
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert images.MAX_UPLOAD_BYTES == 20 * 1024 * 1024
    assert images.MAX_UPLOAD_PIXELS == 40_000_000


def test_crafted_png_header_is_checked_not_trusted(no_decode):
    """A hand-made PNG whose IHDR claims 50000x50000 with a tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + chunk(b"IEND", b"")
    )

    with pytest.raises(ImageRejected, match="50000x50000"):
        inspect_upload(data, param="image")
    assert no_decode == []
