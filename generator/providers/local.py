"""The built-in offline renderer: the "local" provider.

It draws a deterministic picture from the prompt with nothing but Pillow, so a new user
with no provider key can try every feature (generate, edit, several inputs, masks, output
formats) and tests and benchmarks never need the network. The UI labels its images as demo
mode; the renderer also writes a small "offline preview" caption into a corner so a picture
that leaves the app still says where it came from.

Invariants:

- Deterministic. The scene (palette, composition, shapes) comes from a SHA-256 of the
  prompt, seed, index and input images, so the same request always yields byte-identical
  output, a different prompt a visibly different picture, and the same prompt at another
  size the same scene reflowed. Pillow's operations are deterministic for one Pillow
  version; that is the scope of the promise.
- Edits visibly derive from their inputs: the first image is fitted to the output size (or
  several images are laid out as a moodboard) and then colour-graded with the prompt's
  picture. A mask follows OpenAI's semantics: its transparent areas are edited, opaque
  areas keep the input.
- Only ProviderError leaves generate(); the Pillow work runs in a worker thread because it
  is CPU-bound (0.1-0.2 s of CPU per megapixel, half of it PNG encoding) and would
  otherwise stall the event loop.

``background`` and ``quality`` are accepted and ignored: every output is opaque and drawn
the same way.
"""

import asyncio
import colorsys
import hashlib
import io
import logging
import math
import random
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

from generator.providers.base import (
    ErrorCode,
    ImageRequest,
    InputImage,
    ProviderError,
    ProviderImage,
)

logger = logging.getLogger(__name__)

# Pillow format name and MIME type per request.output_format.
FORMATS = {
    "png": ("PNG", "image/png"),
    "jpeg": ("JPEG", "image/jpeg"),
    "jpg": ("JPEG", "image/jpeg"),
    "webp": ("WEBP", "image/webp"),
}
MAX_SIDE = 4096  # a guard against typos like 10240: one RGB frame stays under ~50 MB
# Scenes are drawn at most this big and then upscaled: soft shapes survive bicubic
# upscaling unharmed, and drawing at 384 px instead of 1024 px is seven times cheaper.
WORK_SIDE = 384

RGB = tuple[int, int, int]


class LocalRenderer:
    """The "local" provider: renders offline, in a worker thread, optionally slowed down."""

    name = "local"

    async def generate(self, request: ImageRequest) -> ProviderImage:
        fmt = _check(request)
        # Demos and tests can make the offline renderer feel like a real upstream call.
        latency_ms = int(getattr(settings, "PIXDASH_LOCAL_LATENCY_MS", 0) or 0)
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000)
        return await asyncio.to_thread(_render_request, request, fmt)


def _check(request: ImageRequest) -> str:
    """Refuse what the renderer cannot honour before sleeping or starting a thread."""
    fmt = (request.output_format or "png").lower()
    if fmt not in FORMATS:
        raise _bad_request(f"Unsupported output format {request.output_format!r}.")
    if not (1 <= request.width <= MAX_SIDE and 1 <= request.height <= MAX_SIDE):
        raise _bad_request(f"Unsupported size {request.width}x{request.height}.")
    return fmt


def _bad_request(message: str) -> ProviderError:
    return ProviderError(message, code=ErrorCode.BAD_REQUEST, retryable=False)


def _render_request(request: ImageRequest, fmt: str) -> ProviderImage:
    try:
        digest = _scene_digest(request)
        image = _render(request, digest)
        data = _encode(image, fmt)
    except ProviderError:
        raise
    except Exception as exc:
        # A renderer bug must still surface as a failed image, not crash the job runner;
        # the traceback goes to the log so the bug is not hidden.
        logger.exception("local renderer failed")
        raise ProviderError(
            "The offline renderer failed to draw this image.",
            code=ErrorCode.NO_IMAGE,
            retryable=False,
        ) from exc
    request_id = hashlib.sha256(digest + f"{request.width}x{request.height}.{fmt}".encode())
    if request.mask is not None:
        request_id.update(request.mask.data)
    return ProviderImage(
        data=data,
        mime_type=FORMATS[fmt][1],
        upstream_request_id="local-" + request_id.hexdigest()[:16],
        revised_prompt=None,
    )


def _scene_digest(request: ImageRequest) -> bytes:
    """What the scene depends on. The size is left out so that one prompt keeps its scene
    at every size, and the mask so that a masked edit is exactly the unmasked edit inside
    the mask's holes. Parts are length-prefixed so ("ab", "c") and ("a", "bc") differ."""
    prompt = request.prompt.encode("utf-8", "surrogatepass")  # JSON can carry lone surrogates
    parts = [prompt, str(request.seed).encode(), str(request.index).encode()]
    parts += [hashlib.sha256(image.data).digest() for image in request.images]
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big") + part)
    return hasher.digest()


def _render(request: ImageRequest, digest: bytes) -> Image.Image:
    size = (request.width, request.height)
    rng = random.Random(digest)
    palette = _palette(rng)
    if request.is_edit:
        image = _render_edit(request, rng, palette, size)
    else:
        image = _grain(_upscale(_scene(rng, palette, _work_size(size)), size), rng, 5)
    return _caption(image, request.prompt)


def _encode(image: Image.Image, fmt: str) -> bytes:
    pil_format = FORMATS[fmt][0]
    buffer = io.BytesIO()
    if pil_format == "PNG":
        # Level 1 encodes ~2.5x faster than the default 6, for ~25% more bytes.
        image.save(buffer, "PNG", compress_level=1)
    elif pil_format == "JPEG":
        image.save(buffer, "JPEG", quality=90)
    else:
        # WebP's method 1 is ~4x faster than the default 4 at about the same size.
        image.save(buffer, "WEBP", quality=88, method=1)
    return buffer.getvalue()


# --- palette --------------------------------------------------------------------------


@dataclass(frozen=True)
class Palette:
    """Colour roles rather than a bare list, so compositions can ask for "the darkest"."""

    deep: RGB  # night sky, nearest hills, shadows
    shadow: RGB
    mid: RGB
    accent: RGB  # the most saturated colour, used sparingly
    light: RGB  # horizon glow, highlights
    glow: RGB  # a warm or complementary highlight for suns and lights


def _palette(rng: random.Random) -> Palette:
    """A colour-harmony scheme around a random base hue: harmonies from colour theory look
    designed, where independent random colours look like noise."""
    base = rng.random()
    scheme = rng.choice(
        [
            (0.0, 0.06, 0.12, 0.5),  # analogous with a complementary glow
            (0.0, 1 / 3, 2 / 3, 0.08),  # triadic
            (0.0, 0.42, 0.58, 0.5),  # split complementary
            (0.0, -0.08, 0.5, 0.12),  # complementary
        ]
    )
    # Mood shifts everything darker (dusk) or lighter (pastel), for variety between prompts;
    # pastels are desaturated or they turn into candy.
    lift = rng.choice([-0.05, 0.0, 0.0, 0.08])
    sat = rng.uniform(0.4, 0.72) - max(lift, 0) * 2

    def colour(offset: float, lightness: float, saturation: float) -> RGB:
        hue = (base + offset + rng.uniform(-0.02, 0.02)) % 1.0
        lightness = min(max(lightness + lift, 0.04), 0.94)
        r, g, b = colorsys.hls_to_rgb(hue, lightness, min(max(saturation, 0.0), 1.0))
        return (round(r * 255), round(g * 255), round(b * 255))

    return Palette(
        deep=colour(scheme[0], 0.11, sat * 0.8),
        shadow=colour(scheme[1], 0.28, sat),
        mid=colour(scheme[1], 0.48, sat),
        accent=colour(scheme[2], 0.58, sat + 0.15),
        light=colour(scheme[2], 0.8, sat * 0.8),
        glow=colour(scheme[3], 0.8, 0.85),
    )


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


# --- scene building blocks ------------------------------------------------------------
# Blurs cost the same at any radius (Pillow uses box passes), so the cheap way to a soft
# shape is to blur a small copy; and ImageDraw does not antialias, so crisp shapes are
# drawn at twice the size and reduced.


def _work_size(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(1.0, WORK_SIDE / max(size))
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _upscale(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, Image.Resampling.BICUBIC)


def _crisp(size: tuple[int, int], paint) -> Image.Image:
    """An antialiased mask: paint(draw, k) draws with coordinates scaled by k."""
    big = Image.new("L", (size[0] * 2, size[1] * 2), 0)
    paint(ImageDraw.Draw(big), 2)
    return big.reduce(2)


def _soft(size: tuple[int, int], radius: float, paint) -> Image.Image:
    """A blurred mask, drawn and blurred at a fraction of the size, then scaled up."""
    k = min(max(radius / 2, 1.0), 8.0, min(size) / 8)
    small_size = (max(1, round(size[0] / k)), max(1, round(size[1] / k)))
    small = Image.new("L", small_size, 0)
    paint(ImageDraw.Draw(small), 1 / k)
    small = small.filter(ImageFilter.GaussianBlur(radius / k))
    return small.resize(size, Image.Resampling.BILINEAR)


def _vgradient(size: tuple[int, int], stops: list[tuple[float, RGB]]) -> Image.Image:
    """A vertical multi-stop gradient: a short column computed in Python, stretched."""
    rows = min(size[1], 128)
    column = Image.new("RGB", (1, rows))
    column.putdata([_stop_colour(stops, y / max(rows - 1, 1)) for y in range(rows)])
    return column.resize(size, Image.Resampling.BILINEAR)


def _stop_colour(stops: list[tuple[float, RGB]], t: float) -> RGB:
    for (t0, c0), (t1, c1) in zip(stops, stops[1:], strict=False):
        if t <= t1:
            return _mix(c0, c1, (t - t0) / max(t1 - t0, 1e-9))
    return stops[-1][1]


def _ramp(size: tuple[int, int], start: float, end: float, peak: int) -> Image.Image:
    """A vertical mask rising from 0 at y=start to `peak` at y=end (fractions of height)."""
    rows = 128
    column = Image.new("L", (1, rows))
    span = max(end - start, 1e-6)
    column.putdata([round(peak * min(max((y / rows - start) / span, 0), 1)) for y in range(rows)])
    return column.resize(size, Image.Resampling.BILINEAR)


def _mesh(rng: random.Random, palette: Palette, size: tuple[int, int]) -> Image.Image:
    """A "mesh gradient": a few big blobs on a thumbnail, blurred and upscaled. Drawing at
    32 px keeps it nearly free and the upscale makes it perfectly smooth."""
    width, height = size
    tw = 32
    th = max(4, round(tw * height / width))
    thumb = Image.new("RGB", (tw, th), palette.shadow)
    draw = ImageDraw.Draw(thumb)
    colours = [palette.deep, palette.deep, palette.mid, palette.accent, palette.shadow]
    for _ in range(rng.randint(4, 6)):
        cx, cy = rng.uniform(0, tw), rng.uniform(0, th)
        r = rng.uniform(0.25, 0.5) * max(tw, th)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rng.choice(colours))
    thumb = thumb.filter(ImageFilter.GaussianBlur(tw / 5))
    return thumb.resize(size, Image.Resampling.BICUBIC)


def _disc(cx: float, cy: float, r: float):
    """A painter for _crisp/_soft: one filled circle."""
    return lambda draw, k, fill=255: draw.ellipse(
        ((cx - r) * k, (cy - r) * k, (cx + r) * k, (cy + r) * k), fill=fill
    )


def _slab(cx: float, cy: float, r: float, stretch: float):
    """A painter for _crisp/_soft: a pill-shaped slab `stretch` times wider than tall."""
    box = (cx - r * stretch, cy - r * 0.6, cx + r * stretch, cy + r * 0.6)
    return lambda draw, k, fill=255: draw.rounded_rectangle(
        [v * k for v in box], radius=r * 0.6 * k, fill=fill
    )


def _vignette(image: Image.Image, strength: float) -> Image.Image:
    """Darkens the corners a little: it frames the picture and hides flat edges."""
    ring = Image.radial_gradient("L").resize(image.size, Image.Resampling.BILINEAR)
    image.paste((0, 0, 0), (0, 0, *image.size), ring.point(lambda v: round(strength * v**2 / 255)))
    return image


def _grain(image: Image.Image, rng: random.Random, amplitude: int) -> Image.Image:
    """Monochrome film grain: it dithers away the banding of smooth 8-bit gradients. Grains
    are about 1/512 of the short side, which keeps their look the same at every size and
    keeps PNGs compressible (per-pixel noise doubles the encode time and the bytes)."""
    width, height = image.size
    block = max(1, round(min(width, height) / 512))
    small = (math.ceil(width / block), math.ceil(height / block))
    noise = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
    noise = noise.point(lambda v: v * 2 * amplitude // 255)
    if block > 1:
        noise = noise.resize((small[0] * block, small[1] * block), Image.Resampling.NEAREST)
        noise = noise.crop((0, 0, width, height))
    return ImageChops.add(image, Image.merge("RGB", (noise, noise, noise)), 1.0, -amplitude)


# --- compositions ---------------------------------------------------------------------


def _scene(rng: random.Random, palette: Palette, size: tuple[int, int]) -> Image.Image:
    """The prompt's picture at `size`: one of four compositions, each drawn from `rng`."""
    compose = rng.choice([_landscape, _bokeh, _aurora, _shapes])
    return _vignette(compose(rng, palette, size), 0.45)


def _landscape(rng: random.Random, palette: Palette, size: tuple[int, int]) -> Image.Image:
    """Layered hills under a sunset, with mist pooling between the ridges (aerial
    perspective: far ridges fade into the colour of the sky)."""
    width, height = size
    unit = min(size)
    horizon = rng.uniform(0.42, 0.6)
    haze = _mix(palette.light, palette.glow, 0.4)
    sky = _vgradient(
        size,
        [
            (0.0, _mix(palette.deep, palette.shadow, 0.6)),
            (horizon * 0.55, _mix(palette.mid, palette.accent, 0.5)),
            (horizon, haze),
            (1.0, haze),
        ],
    )
    sun = (rng.uniform(0.2, 0.8) * width, horizon * height * rng.uniform(0.6, 0.9))
    radius = unit * rng.uniform(0.05, 0.09)
    sky.paste(
        palette.glow,
        (0, 0, *size),
        _soft(size, unit * 0.1, _disc(*sun, radius * 3.5)).point(lambda v: v * 6 // 10),
    )
    sky.paste(
        _mix(palette.glow, (255, 255, 255), 0.5), (0, 0, *size), _crisp(size, _disc(*sun, radius))
    )
    layers = rng.randint(3, 5)
    for i in range(layers):
        near = i / (layers - 1)
        nearest = _mix(palette.deep, palette.shadow, 0.3)
        colour = _mix(_mix(haze, palette.mid, 0.55), nearest, near**0.9)
        top = horizon + (0.9 - horizon) * near * 0.8
        amplitude = rng.uniform(0.03, 0.07) * (1.4 - 0.6 * near)
        sky.paste(colour, (0, 0, *size), _ridge_mask(rng, size, top, amplitude, 2.5 - 1.6 * near))
        if near < 1:
            sky.paste(haze, (0, 0, *size), _ramp(size, top - amplitude, top + 0.12, 150))
    return sky


def _ridge_mask(
    rng: random.Random, size: tuple[int, int], base: float, amplitude: float, roughness: float
) -> Image.Image:
    """Everything below a sum of three sines of random phase: reads as a natural ridge.
    Rough (far) ridges get higher frequencies, like mountains; near ones roll."""
    width, height = size
    waves = [
        (rng.uniform(0.4, 1.0) * roughness * k, rng.uniform(0, math.tau), 1 / k)
        for k in (1, 2.3, 5.1)
    ]
    points = []
    for x in range(0, width + 4, 4):
        t = x / width
        wobble = sum(a * math.sin(f * math.tau * t + p) for f, p, a in waves)
        points.append((x, (base - amplitude * wobble) * height))
    points += [(width, height), (0, height)]
    return _crisp(size, lambda draw, k: draw.polygon([(x * k, y * k) for x, y in points], fill=255))


def _bokeh(rng: random.Random, palette: Palette, size: tuple[int, int]) -> Image.Image:
    """Out-of-focus lights in three depth layers over a dark mesh gradient: far lights are
    small and very soft, near ones big, few and only slightly soft."""
    canvas = _mesh(rng, palette, size)
    canvas = Image.blend(canvas, Image.new("RGB", size, palette.deep), 0.3)
    unit = min(size)
    colours = [palette.accent, palette.light, palette.glow]
    layers = ((26, 0.035, 0.03, 110), (14, 0.07, 0.012, 140), (6, 0.12, 0.004, 150))
    for colour, (count, radius, blur, alpha) in zip(colours, layers, strict=True):
        discs = []
        for _ in range(count):
            r = unit * radius * rng.uniform(0.5, 1.4)
            discs.append(
                (
                    _disc(rng.uniform(0, size[0]), rng.uniform(0, size[1]), r),
                    rng.randint(alpha // 3, alpha),
                )
            )
        mask = _soft(
            size,
            max(unit * blur, 1.0),
            lambda draw, k, ds=discs: [d(draw, k, fill=a) for d, a in ds],
        )
        canvas.paste(colour, (0, 0, *size), mask)
    return canvas


def _aurora(rng: random.Random, palette: Palette, size: tuple[int, int]) -> Image.Image:
    """Curtains of light with vertical rays over a starry night and a dark horizon."""
    width, height = size
    canvas = _vgradient(size, [(0.0, palette.deep), (1.0, _mix(palette.deep, palette.shadow, 0.7))])
    stars = Image.new("L", size, 0)
    draw = ImageDraw.Draw(stars)
    for _ in range(width * height // 700):
        draw.point((rng.uniform(0, width), rng.uniform(0, height * 0.8)), fill=rng.randint(40, 230))
    canvas.paste(palette.light, (0, 0, width, height), stars)
    unit = min(size)
    # Rays: one row of noise stretched down the picture, so brightness varies across x only.
    columns = max(width // 10, 2)
    rays = Image.frombytes("L", (columns, 1), rng.randbytes(columns))
    rays = rays.point(lambda v: 150 + v * 105 // 255).resize(size, Image.Resampling.BICUBIC)
    for colour in rng.sample([palette.accent, palette.glow, palette.light, palette.mid], 3):
        curtain = ImageChops.multiply(_curtain_mask(rng, size, unit * 0.02), rays)
        # Screen adds light without ever darkening, as real aurora does over the stars.
        canvas = ImageChops.screen(canvas, _tint(curtain, colour))
    canvas.paste(palette.deep, (0, 0, *size), _ridge_mask(rng, size, 0.9, 0.03, 3.0))
    return canvas


def _tint(mask: Image.Image, colour: RGB) -> Image.Image:
    """An RGB image that is `colour` scaled by mask (black where the mask is 0)."""
    return Image.merge("RGB", [mask.point(lambda v, c=c: v * c // 255) for c in colour])


def _curtain_mask(rng: random.Random, size: tuple[int, int], blur: float) -> Image.Image:
    """A band along a wavy line, bright at its lower edge and fading upwards, drawn as
    stacked strips of rising height and falling opacity."""
    width, height = size
    base = rng.uniform(0.35, 0.65)
    amplitude = rng.uniform(0.06, 0.16)
    freq, phase = rng.uniform(0.5, 1.4), rng.uniform(0, math.tau)
    tall = rng.uniform(0.2, 0.4)
    xs = [x / 48 for x in range(49)]
    edge = [base + amplitude * math.sin(freq * math.tau * x + phase) for x in xs]

    def paint(draw, k):
        bottom = [
            (x * width * k, y * height * k)
            for x, y in zip(reversed(xs), reversed(edge), strict=True)
        ]
        for step in range(8, 0, -1):
            lift = tall * step / 8
            top = [
                (x * width * k, (y - lift * (0.75 + 0.25 * math.sin(x * 11 + phase))) * height * k)
                for x, y in zip(xs, edge, strict=True)
            ]
            draw.polygon(top + bottom, fill=round(230 * (1 - step / 9)))

    return _soft(size, blur, paint)


def _shapes(rng: random.Random, palette: Palette, size: tuple[int, int]) -> Image.Image:
    """Big overlapping circles and rounded slabs with soft shadows, Bauhaus-poster style."""
    canvas = _mesh(rng, palette, size)
    width, height = size
    unit = min(size)
    colours = [palette.accent, palette.light, palette.glow, palette.mid, palette.shadow]
    for _ in range(rng.randint(3, 5)):
        cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
        r = unit * rng.uniform(0.12, 0.3)
        paint = _disc(cx, cy, r) if rng.random() < 0.6 else _slab(cx, cy, r, rng.uniform(1.2, 2.2))
        dx, dy = unit * 0.012, unit * 0.02
        shadow = _soft(size, unit * 0.03, lambda draw, k, p=paint: p(draw, k, fill=110))
        canvas.paste(
            (0, 0, 0), (round(dx), round(dy), width + round(dx), height + round(dy)), shadow
        )
        fill = _vgradient(size, [(0.0, rng.choice(colours)), (1.0, rng.choice(colours))])
        canvas.paste(fill, (0, 0), _crisp(size, paint))
    return canvas


# --- edits ----------------------------------------------------------------------------


def _render_edit(
    request: ImageRequest, rng: random.Random, palette: Palette, size: tuple[int, int]
) -> Image.Image:
    images = [_decode(image, palette, size) for image in request.images]
    art = _scene(rng, palette, _work_size(size))  # the prompt's picture, at the small size
    base, first_box = _compose(images, art, size)
    styled = _grain(_stylise(base, art, palette, rng), rng, 5)
    if request.mask is None:
        return styled
    keep = _keep_mask(request.mask, images[0], first_box, size)
    if keep is None:
        return styled
    # OpenAI semantics: opaque mask areas keep the input, transparent areas are edited.
    return Image.composite(base, styled, keep)


def _open(image: InputImage, *, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decodes one input to RGBA if it has transparency, else RGB. Anything Pillow cannot
    read or convert is the caller's bad request: Pillow raises many types for corrupt data."""
    try:
        decoded = Image.open(io.BytesIO(image.data))
        if draft:
            # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that still covers the output.
            decoded.draft("RGB", draft)
        decoded.load()
        decoded = ImageOps.exif_transpose(decoded)
        has_alpha = decoded.mode in ("RGBA", "LA", "PA") or "transparency" in decoded.info
        return decoded.convert("RGBA" if has_alpha else "RGB")
    except Exception as exc:
        raise _bad_request("An input image could not be decoded.") from exc


def _decode(image: InputImage, palette: Palette, size: tuple[int, int]) -> Image.Image:
    decoded = _open(image, draft=size)
    if decoded.mode == "RGBA":
        # Transparent inputs sit on the palette's colour rather than on black.
        backdrop = Image.new("RGBA", decoded.size, (*palette.mid, 255))
        return Image.alpha_composite(backdrop, decoded).convert("RGB")
    return decoded


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Cover-crop to the size, centred, like CSS object-fit: cover. Resizing straight from
    a crop box (with reducing_gap for big inputs) is one pass instead of crop + resize."""
    scale = max(size[0] / image.width, size[1] / image.height)
    crop_w, crop_h = size[0] / scale, size[1] / scale
    left, top = (image.width - crop_w) / 2, (image.height - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    return image.resize(size, Image.Resampling.BICUBIC, box=box, reducing_gap=2.0)


def _compose(
    images: list[Image.Image], art: Image.Image, size: tuple[int, int]
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The unedited picture in output coordinates, plus the box the first image landed in
    (a mask belongs to it). One image fills the frame; several become a moodboard of
    rounded panels over the prompt's art."""
    if len(images) == 1:
        return _fit(images[0], size), (0, 0, *size)
    canvas = _upscale(art, size)
    unit = min(size)
    boxes = [tuple(round(v) for v in box) for box in _layout(len(images), size, gap=unit * 0.04)]
    for image, (left, top, right, bottom) in zip(images, boxes, strict=True):
        panel = _fit(image, (max(right - left, 1), max(bottom - top, 1)))  # tiny outputs
        rounded = Image.new("L", panel.size, 0)
        ImageDraw.Draw(rounded).rounded_rectangle(
            (0, 0, panel.width - 1, panel.height - 1), radius=unit * 0.025, fill=255
        )
        _shadow(canvas, rounded, (left, top), unit)
        canvas.paste(panel, (left, top), rounded)
    return canvas, boxes[0]


def _shadow(canvas: Image.Image, shape: Image.Image, at: tuple[int, int], unit: float) -> None:
    """A soft drop shadow under a panel, so the moodboard reads as cards on a backdrop."""
    pad = round(unit * 0.05)
    mask = Image.new("L", (shape.width + 2 * pad, shape.height + 2 * pad), 0)
    mask.paste(shape.point(lambda v: v * 55 // 100), (pad, pad + round(unit * 0.012)))
    mask = mask.filter(ImageFilter.GaussianBlur(unit * 0.015))
    canvas.paste(
        (0, 0, 0),
        (at[0] - pad, at[1] - pad, at[0] - pad + mask.width, at[1] - pad + mask.height),
        mask,
    )


def _layout(count: int, size: tuple[int, int], gap: float) -> list[tuple[float, ...]]:
    """Panel boxes (left, top, right, bottom). Two or three images: a hero panel for the
    first (edits are about it) and the rest stacked beside it; more: an even grid."""
    width, height = size
    if count <= 3:
        # Lay out along the long side, then swap axes back for portrait frames.
        along, across = max(width, height), min(width, height)
        split = gap + (along - 3 * gap) * (0.5 if count == 2 else 0.6)
        step = (across - gap) / (count - 1)
        boxes = [(gap, gap, split, across - gap)]
        boxes += [
            (split + gap, gap + i * step, along - gap, (i + 1) * step) for i in range(count - 1)
        ]
        if width < height:
            boxes = [(top, left, bottom, right) for left, top, right, bottom in boxes]
        return boxes
    cols = math.ceil(math.sqrt(count * width / height))
    rows = math.ceil(count / cols)
    cell_h = (height - gap) / rows
    boxes = []
    for row in range(rows):
        in_row = min(cols, count - row * cols)  # the last row's panels widen to fill it
        cell_w = (width - gap) / in_row
        boxes += [
            (gap + col * cell_w, gap + row * cell_h, (col + 1) * cell_w, (row + 1) * cell_h)
            for col in range(in_row)
        ]
    return boxes


def _stylise(
    base: Image.Image, art: Image.Image, palette: Palette, rng: random.Random
) -> Image.Image:
    """The "edit". A gradient map re-colours the input's luminance through the prompt's
    palette (the classic duotone look), then the prompt's picture and the input's own
    blurred highlights light it through soft light, which keeps edges and detail. Both
    steps map brightness monotonically, so the input stays recognisable."""
    toned = ImageOps.colorize(base.convert("L"), palette.deep, palette.light, mid=palette.accent)
    graded = Image.blend(base, toned, rng.uniform(0.45, 0.6))
    # The light is soft, so it is built at the small working size and upscaled once.
    glow = graded.resize(art.size, Image.Resampling.BILINEAR)
    glow = glow.filter(ImageFilter.GaussianBlur(min(art.size) * 0.02))
    # The vignette goes into the light too: darkening there darkens the corners of the
    # result, without a full-size pass of its own.
    light = _vignette(Image.blend(art, ImageChops.screen(glow, glow), 0.5), 0.6)
    return ImageChops.soft_light(graded, _upscale(light, base.size))


def _keep_mask(
    mask_input: InputImage,
    first: Image.Image,
    box: tuple[int, int, int, int],
    size: tuple[int, int],
) -> Image.Image | None:
    """Where the output keeps the input (255) rather than the edit, in output coordinates.

    The mask belongs to the first image, so it is fitted exactly as that image was and
    placed in its box; everywhere else is edited. A mask whose shape does not match the
    first image cannot be lined up with it and is ignored (the whole picture is edited),
    which is friendlier for a demo than refusing the request.
    """
    mask = _open(mask_input)
    if abs(math.log(mask.width * first.height / (mask.height * first.width))) > 0.02:
        return None
    # Without an alpha channel, read it the common inpainting way: white = edit.
    keep = mask.getchannel("A") if mask.mode == "RGBA" else ImageOps.invert(mask.convert("L"))
    left, top, right, bottom = box
    frame = Image.new("L", size, 0)
    frame.paste(_fit(keep, (max(right - left, 1), max(bottom - top, 1))), (left, top))
    return frame


# --- caption --------------------------------------------------------------------------


def _caption(image: Image.Image, prompt: str) -> Image.Image:
    """A small "offline preview" label in the bottom-left corner, on a translucent pill."""
    width, height = image.size
    if min(width, height) < 96:
        return image  # nothing legible fits; the UI's demo badge still says it
    size = max(10, min(22, round(min(width, height) * 0.018)))
    font = ImageFont.load_default(size=size)
    text = "offline preview" + _snippet(prompt, width / size * 0.8)
    draw = ImageDraw.Draw(image, "RGBA")
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = size * 0.5
    margin = size
    x0, y1 = margin, height - margin
    y0 = y1 - (bottom - top) - 2 * pad
    x1 = x0 + (right - left) + 2 * pad
    draw.rounded_rectangle((x0, y0, x1, y1), radius=(y1 - y0) / 2, fill=(0, 0, 0, 90))
    draw.text((x0 + pad - left, y0 + pad - top), text, font=font, fill=(255, 255, 255, 210))
    return image


def _snippet(prompt: str, max_chars: float) -> str:
    """The first few words of the prompt, reduced to ASCII because Pillow's built-in font
    has no glyphs beyond Latin; a prompt that is all non-Latin simply gets no snippet."""
    ascii_text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()
    words = "".join(c if c.isprintable() else " " for c in ascii_text).split()
    budget = min(max_chars - 16, 40)  # 16: "offline preview" itself
    if budget < 10:
        return ""  # a lone "a..." on a small image says nothing
    snippet = ""
    for word in words[:6]:
        if len(snippet) + len(word) + 1 > budget:
            break
        snippet = f"{snippet} {word}".strip()
    if not snippet:
        return ""
    ellipsis = "..." if len(snippet) < len(" ".join(words)) else ""
    return f" \u00b7 {snippet}{ellipsis}"
