"""Inspect and transform image bytes: the only module that hands image data to Pillow.

Everything here is a pure function over ``bytes``: no ORM, no request objects, no files.

Order of checks for an upload (``inspect_upload``), cheapest first, so that hostile input
is turned away before it costs memory or CPU:

1. **Byte size** (``len(data)``), before anything looks inside: over the limit is a 413.
2. **Magic bytes** (``sniff_mime``): PNG, JPEG or WEBP, decided from the first 12 bytes
   only. The client's filename and part content type are never trusted, so HTML, SVG, GIF
   or text named ``.png`` is a 400 here.
3. **Header parse without decode**: the Pillow plugin *for the sniffed type* parses the
   header lazily (no pixel data is read), which also proves that Pillow agrees with the
   sniffed type. We construct the plugin class directly instead of going through
   ``Image.open`` because ``Image.open`` runs Pillow's own decompression-bomb check, which
   at 89-179 megapixels only *warns* (and is a process-global, thread-unsafe setting to
   tune). Our limit (40 megapixels by default) is checked right after on the header's
   width x height, so a 100-megapixel PNG of a few KB is a 400 and never decoded. (Keep
   any ``max_pixels`` below Pillow's ``MAX_IMAGE_PIXELS``, ~89 M, which is left untouched.)
4. **Full decode** (truncated or corrupt data is a 400), then EXIF orientation is applied.
5. **Re-encode** as PNG (alpha kept, everything else RGB) with no metadata at all: no
   EXIF (GPS, camera, artist), no text chunks, no ICC profile, no XMP. The SHA-256 is of
   the re-encoded bytes, so it names the stored object.

Only steps 4-5 are expensive and they are blocking CPU work: call these functions off the
event loop (``asyncio.to_thread`` / a worker), never inline in async code. Measured on the
2-core dev container for a 1024x1024 photo: decode ~10-50 ms (JPEG is the cheapest; ~35 ms
is a fair planning figure), but the whole ``inspect_upload`` is ~0.2-0.4 s because the PNG
re-encode dominates even at ``PNG_COMPRESS_LEVEL`` 1 (zlib's default 6 is ~3x slower for
~10% fewer bytes). A 12-megapixel JPEG takes ~1.8 s and grows from ~1.5 MB to ~13 MB as
PNG. ``make_thumbnail`` decodes JPEGs at reduced scale (~0.15 s even at 12 megapixels).
Header-only rejections (size, type, pixel bombs) take well under a millisecond.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from dataclasses import dataclass
from typing import Final, Literal

from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

__all__ = [
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_PIXELS",
    "ImageRejected",
    "OutputFormat",
    "UploadedImage",
    "convert_format",
    "inspect_mask",
    "inspect_upload",
    "make_thumbnail",
    "probe_output",
    "sniff_mime",
]

MAX_UPLOAD_BYTES: Final = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS: Final = 40_000_000

PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
WEBP: Final = "image/webp"

#: zlib level for re-encoded PNGs: 1 is ~3-4x faster than the default 6 for ~10-20% more bytes.
PNG_COMPRESS_LEVEL: Final = 1
THUMBNAIL_QUALITY: Final = 80
CONVERT_QUALITY: Final = 90

OutputFormat = Literal["png", "jpeg", "webp"]

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE: Final = b"\xff\xd8\xff"

# The Pillow plugin class for each sniffed type, and the format name it reports.
_PLUGINS: Final[dict[str, tuple[type[ImageFile.ImageFile], str]]] = {
    PNG: (PngImagePlugin.PngImageFile, "PNG"),
    JPEG: (JpegImagePlugin.JpegImageFile, "JPEG"),
    WEBP: (WebPImagePlugin.WebPImageFile, "WEBP"),
}
_MIME_BY_FORMAT: Final[dict[str, str]] = {"png": PNG, "jpeg": JPEG, "webp": WEBP}

# What Pillow and its C decoders raise on truncated, corrupt or unsupported data.
# DecompressionBombError is listed for completeness: our own pixel check runs first.
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)


class ImageRejected(Exception):
    """An image the caller must refuse. ``message`` is safe to show to the API client."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status

    @property
    def code(self) -> str:
        """The API error code for ``status`` (see docs/API.md "Errors")."""
        return "request_too_large" if self.status == 413 else "invalid_request_error"


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadedImage:
    """A checked upload, re-encoded as a metadata-free PNG; ``sha256`` is of ``data``."""

    data: bytes
    mime_type: str = PNG
    width: int
    height: int
    sha256: str


def sniff_mime(data: bytes) -> str | None:
    """The image type from magic bytes only, or None for anything but PNG, JPEG or WEBP."""
    if data.startswith(_PNG_SIGNATURE):
        return PNG
    if data.startswith(_JPEG_SIGNATURE):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def inspect_upload(
    data: bytes,
    *,
    param: str,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_UPLOAD_PIXELS,
) -> UploadedImage:
    """Check an uploaded image and return it re-encoded as a clean PNG.

    Raises ImageRejected: 413 over ``max_bytes``; 400 for a type other than PNG, JPEG or
    WEBP, for more than ``max_pixels`` (checked on the header, before decode), and for data
    that does not decode.
    """
    _check_bytes(data, param=param, max_bytes=max_bytes)
    mime = sniff_mime(data)
    if mime is None:
        raise ImageRejected(f"'{param}' must be a PNG, JPEG or WEBP image.", param=param)
    image = _open_checked(data, mime=mime, param=param, max_pixels=max_pixels)
    return _reencode_png(image, param=param)


def inspect_mask(
    data: bytes,
    *,
    param: str = "mask",
    image: UploadedImage,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> UploadedImage:
    """Check an edit mask: a PNG exactly the size of ``image`` (after EXIF orientation).

    Returned re-encoded like ``inspect_upload`` (alpha kept: it is what marks the area).
    """
    _check_bytes(data, param=param, max_bytes=max_bytes)
    wrong = ImageRejected(
        f"'{param}' must be a PNG the same size as the image ({image.width}x{image.height}).",
        param=param,
    )
    if sniff_mime(data) != PNG:
        raise wrong
    mask = _open_lazily(data, mime=PNG, param=param)
    # Checked on the header, before decode: this also stops pixel bombs. Either orientation
    # passes here because an EXIF orientation may still swap the sides.
    if sorted(mask.size) != sorted((image.width, image.height)):
        raise wrong
    result = _reencode_png(mask, param=param)
    if (result.width, result.height) != (image.width, image.height):
        raise wrong
    return result


def probe_output(data: bytes, *, max_pixels: int = MAX_UPLOAD_PIXELS) -> tuple[str, int, int]:
    """Sniffed mime type, width and height of a provider's output image, from its header.

    Raises ImageRejected for anything that is not a PNG, JPEG or WEBP within
    ``max_pixels``, or whose file is incomplete. The pixels are not decoded: on a sync
    request's path that would cost ~30 ms per megapixel image, and a truncated answer
    (the failure that happens) shows in the file's structure: a PNG ends with its IEND
    chunk, a JPEG with its end-of-image marker, a WEBP's RIFF header gives its length.
    """
    mime = sniff_mime(data)
    if mime is None:
        raise ImageRejected("The provider returned data that is not a PNG, JPEG or WEBP image.")
    image = _open_checked(data, mime=mime, param=None, max_pixels=max_pixels)
    if not _is_complete(data, mime):
        raise _undecodable(None)
    width, height = image.size
    return mime, width, height


_PNG_END = b"IEND\xaeB`\x82"


def _is_complete(data: bytes, mime: str) -> bool:
    if mime == PNG:
        return data.endswith(_PNG_END)
    if mime == JPEG:
        return data.rstrip(b"\x00").endswith(b"\xff\xd9")
    riff_length = int.from_bytes(data[4:8], "little")
    return len(data) - 8 in (riff_length, riff_length + 1)  # an odd chunk may be padded


def make_thumbnail(
    data: bytes, *, max_side: int = 512, max_pixels: int = MAX_UPLOAD_PIXELS
) -> bytes:
    """A WebP thumbnail fitting in ``max_side`` x ``max_side``, aspect ratio kept, never
    enlarged, alpha kept, EXIF orientation applied, no metadata."""
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    image = _open_checked(data, mime=_sniff_or_reject(data), param=None, max_pixels=max_pixels)
    try:
        # JPEG only (a no-op otherwise): decode at 1/2, 1/4 or 1/8 scale right away, keeping
        # at least twice the target size so the final resampling stays sharp. The box is
        # square, so it does not matter that the EXIF orientation is applied afterwards.
        image.draft(None, (max_side * 2, max_side * 2))
        # Converted before resizing: Pillow resizes palette images with nearest-neighbour.
        pixels = _clean_pixels(ImageOps.exif_transpose(image))
        pixels.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        pixels.save(buffer, format="WEBP", quality=THUMBNAIL_QUALITY, method=4)
    except _DECODE_ERRORS as exc:
        raise _undecodable(None) from exc
    return buffer.getvalue()


def convert_format(
    data: bytes,
    *,
    output_format: str,
    quality: int = CONVERT_QUALITY,
    max_pixels: int = MAX_UPLOAD_PIXELS,
) -> tuple[bytes, str]:
    """Re-encode to ``output_format`` ("png", "jpeg" or "webp"); returns (bytes, mime type).

    Already in that format: the same bytes back, untouched. Otherwise EXIF orientation is
    applied, metadata dropped, and for JPEG any transparency is flattened onto white.
    """
    target = _MIME_BY_FORMAT.get(output_format.lower())
    if target is None:
        raise ValueError(f"output_format must be png, jpeg or webp, not {output_format!r}")
    source = _sniff_or_reject(data)
    if source == target:
        return data, target
    image = _open_checked(data, mime=source, param=None, max_pixels=max_pixels)
    _load(image, param=None)
    try:
        pixels = _clean_pixels(ImageOps.exif_transpose(image))
        buffer = io.BytesIO()
        if target == JPEG:
            if pixels.mode == "RGBA":
                flat = Image.new("RGB", pixels.size, (255, 255, 255))
                flat.paste(pixels, mask=pixels.getchannel("A"))
                pixels = flat
            pixels.save(buffer, format="JPEG", quality=quality, optimize=True)
        elif target == WEBP:
            pixels.save(buffer, format="WEBP", quality=quality, method=4)
        else:
            pixels.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    except _DECODE_ERRORS as exc:
        raise _undecodable(None) from exc
    return buffer.getvalue(), target


# -- internals ------------------------------------------------------------------------------


def _check_bytes(data: bytes, *, param: str, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise ImageRejected(
            f"'{param}' is too large: {_megabytes(len(data))} MB; "
            f"the limit is {_megabytes(max_bytes)} MB per file.",
            param=param,
            status=413,
        )


def _sniff_or_reject(data: bytes) -> str:
    mime = sniff_mime(data)
    if mime is None:
        raise ImageRejected("The data is not a PNG, JPEG or WEBP image.")
    return mime


def _open_checked(
    data: bytes, *, mime: str, param: str | None, max_pixels: int
) -> ImageFile.ImageFile:
    """``_open_lazily`` and enforce the pixel limit on the header's width x height."""
    image = _open_lazily(data, mime=mime, param=param)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            f"{_name(param)} is too large: {width}x{height} is "
            f"{width * height / 1_000_000:.1f} megapixels; "
            f"the limit is {max_pixels / 1_000_000:g} megapixels.",
            param=param,
        )
    return image


def _open_lazily(data: bytes, *, mime: str, param: str | None) -> ImageFile.ImageFile:
    """Parse the header with Pillow's plugin for ``mime``: no pixel data is decoded, and
    unlike ``Image.open`` no DecompressionBombWarning can be emitted (see module docstring).
    The caller must check the size before loading."""
    plugin, pillow_format = _PLUGINS[mime]
    try:
        image = plugin(io.BytesIO(data))
    except _DECODE_ERRORS as exc:
        raise _undecodable(param) from exc
    if image.format != pillow_format:  # Cannot happen with these plugins; cheap to keep.
        raise _undecodable(param)
    width, height = image.size
    if width < 1 or height < 1:
        raise _undecodable(param)
    return image


def _load(image: ImageFile.ImageFile, *, param: str | None) -> None:
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        raise _undecodable(param) from exc


def _reencode_png(image: ImageFile.ImageFile, *, param: str) -> UploadedImage:
    _load(image, param=param)
    try:
        pixels = _clean_pixels(ImageOps.exif_transpose(image))
        buffer = io.BytesIO()
        pixels.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    except _DECODE_ERRORS as exc:
        raise _undecodable(param) from exc
    encoded = buffer.getvalue()
    return UploadedImage(
        data=encoded,
        width=pixels.width,
        height=pixels.height,
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


def _clean_pixels(image: Image.Image) -> Image.Image:
    """The pixels as RGBA (if there is any transparency) or RGB, with no metadata.

    Takes ownership of ``image``, which must be a fresh in-memory copy (as returned by
    ``exif_transpose``), never the lazily opened file. Pillow's encoders take EXIF, ICC,
    XMP, comments and text only from ``info`` or from explicit save arguments, and this
    module passes none, so an empty ``info`` means metadata-free output.
    """
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale PNG: scale to 8 bits (convert() would clip everything to white).
        image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    mode = "RGBA" if image.has_transparency_data else "RGB"
    if image.mode != mode:
        image = image.convert(mode)
    image.info = {}
    return image


def _undecodable(param: str | None) -> ImageRejected:
    return ImageRejected(
        f"{_name(param)} could not be decoded: the file is truncated or corrupt.", param=param
    )


def _name(param: str | None) -> str:
    return f"'{param}'" if param else "The image"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")
