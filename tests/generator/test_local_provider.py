"""generator.providers.local: the offline renderer behind demo mode, tests and benchmarks.

Pictures are compared with Pillow alone: mean absolute difference per channel (0-255) for
"looks different", and the Pearson correlation of luminance thumbnails for "is derived
from". Inputs are blocky random patterns, so two of them are nearly uncorrelated.
"""

import asyncio
import io
import random
import time

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat

from generator.providers.base import ErrorCode, ImageRequest, InputImage, ProviderError
from generator.providers.local import LocalRenderer, _layout


def make_request(prompt: str = "a lighthouse on a cliff at dusk", **fields) -> ImageRequest:
    defaults = {"width": 256, "height": 256, "aspect_ratio": "1:1"}
    return ImageRequest(upstream_model="local-preview", prompt=prompt, **(defaults | fields))


def render(request: ImageRequest):
    return asyncio.run(LocalRenderer().generate(request))


def picture(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def pattern(seed: int, size: tuple[int, int] = (256, 256)) -> Image.Image:
    """An 8x8 grid of random dark and light cells in a seed-dependent colour."""
    rng = random.Random(seed)
    cells = Image.new("L", (8, 8))
    cells.putdata([rng.choice((20, 235)) for _ in range(64)])
    grey = cells.resize(size, Image.Resampling.NEAREST)
    factors = [rng.uniform(0.6, 1) for _ in "rgb"]
    return Image.merge("RGB", [grey.point(lambda v, f=f: v * f) for f in factors])


def as_input(image: Image.Image, fmt: str = "PNG") -> InputImage:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return InputImage(buffer.getvalue(), f"image/{fmt.lower()}", image.width, image.height)


def difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def correlation(a: Image.Image, b: Image.Image) -> float:
    xs = list(a.convert("L").resize((64, 64)).tobytes())
    ys = list(b.convert("L").resize((64, 64)).tobytes())
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    var_x = sum((x - mx) ** 2 for x in xs)
    var_y = sum((y - my) ** 2 for y in ys)
    return cov / (var_x * var_y) ** 0.5


def test_the_same_request_gives_the_same_bytes():
    first = render(make_request(seed=7, index=1))
    second = render(make_request(seed=7, index=1))

    assert first.data == second.data
    assert first.upstream_request_id == second.upstream_request_id
    assert first.upstream_request_id.startswith("local-")
    assert first.revised_prompt is None


def test_the_same_edit_gives_the_same_bytes():
    request = make_request(images=(as_input(pattern(1)),))

    assert render(request).data == render(request).data


def test_different_prompts_give_visibly_different_pictures():
    prompts = ["a red fox in the snow", "a red fox in the snow.", "neon city", "ramen", "x"]
    pictures = [picture(render(make_request(prompt)).data) for prompt in prompts]

    for i, a in enumerate(pictures):
        for b in pictures[i + 1 :]:
            assert difference(a, b) > 12


def test_seed_and_index_change_the_picture():
    base = picture(render(make_request()).data)

    assert difference(base, picture(render(make_request(seed=1)).data)) > 12
    assert difference(base, picture(render(make_request(index=1)).data)) > 12


@pytest.mark.parametrize(
    ("width", "height"), [(1024, 1024), (1344, 768), (768, 1344), (256, 256), (90, 33)]
)
def test_it_honours_the_requested_size(width, height):
    result = render(make_request(width=width, height=height))

    assert Image.open(io.BytesIO(result.data)).size == (width, height)


@pytest.mark.parametrize(
    ("output_format", "magic", "mime_type", "pillow_format"),
    [
        ("png", b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
        ("jpeg", b"\xff\xd8\xff", "image/jpeg", "JPEG"),
        ("webp", b"RIFF", "image/webp", "WEBP"),
    ],
)
def test_it_encodes_the_requested_format(output_format, magic, mime_type, pillow_format):
    result = render(make_request(output_format=output_format))

    assert result.data.startswith(magic)
    assert result.mime_type == mime_type
    assert Image.open(io.BytesIO(result.data)).format == pillow_format


def test_png_is_the_default_format():
    assert render(make_request()).mime_type == "image/png"


def test_an_unsupported_format_is_a_bad_request():
    with pytest.raises(ProviderError) as raised:
        render(make_request(output_format="gif"))

    assert raised.value.code == ErrorCode.BAD_REQUEST
    assert raised.value.retryable is False


def test_an_edit_derives_from_its_input():
    a, b = pattern(1), pattern(2)
    prompt = "make it a dreamy sunset"
    edit_a = picture(render(make_request(prompt, images=(as_input(a),))).data)
    edit_b = picture(render(make_request(prompt, images=(as_input(b),))).data)

    assert correlation(edit_a, a) > 0.8
    assert correlation(edit_a, b) < 0.4
    assert correlation(edit_b, b) > 0.8
    assert difference(edit_a, a) > 8  # it is an edit, not a copy


def test_an_edit_is_graded_by_its_prompt():
    image = as_input(pattern(1))
    sunset = picture(render(make_request("a sunset", images=(image,))).data)
    forest = picture(render(make_request("a forest", images=(image,))).data)

    assert difference(sunset, forest) > 8


def test_an_edit_fits_a_differently_shaped_input_to_the_requested_size():
    image = as_input(pattern(3, size=(300, 500)), "JPEG")

    result = render(make_request(width=448, height=256, images=(image,)))

    assert Image.open(io.BytesIO(result.data)).size == (448, 256)


def test_a_transparent_input_is_edited():
    image = pattern(4).convert("RGBA")
    image.putalpha(128)

    result = render(make_request(images=(as_input(image),)))

    assert Image.open(io.BytesIO(result.data)).size == (256, 256)


def test_a_three_image_edit_shows_every_input_in_its_panel():
    inputs = [pattern(seed) for seed in (1, 2, 3)]
    size = (672, 384)

    result = render(
        make_request(width=size[0], height=size[1], images=tuple(map(as_input, inputs)))
    )

    output = picture(result.data)
    assert output.size == size
    for image, box in zip(inputs, _layout(3, size, gap=min(size) * 0.04), strict=True):
        panel = output.crop(tuple(round(v) for v in box))
        others = [other for other in inputs if other is not image]
        assert correlation(panel, ImageOps.fit(image, panel.size)) > 0.7
        assert all(correlation(panel, ImageOps.fit(other, panel.size)) < 0.5 for other in others)


def test_a_mask_limits_the_edit_to_its_transparent_area():
    original = pattern(5)
    mask = Image.new("RGBA", original.size, (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((128, 0, 255, 255), fill=(0, 0, 0, 0))  # edit the right half
    image = as_input(original)

    masked = picture(render(make_request(images=(image,), mask=as_input(mask))).data)
    unmasked = picture(render(make_request(images=(image,))).data)

    kept, edited = (0, 0, 120, 200), (136, 0, 256, 200)  # clear of the caption at the bottom
    assert difference(masked.crop(kept), original.crop(kept)) < 2
    assert difference(masked.crop(edited), original.crop(edited)) > 5
    # Inside the hole the masked edit is exactly the unmasked one.
    assert difference(masked.crop(edited), unmasked.crop(edited)) < 1


def test_an_opaque_mask_keeps_the_whole_input():
    original = pattern(6)
    mask = Image.new("RGBA", original.size, (255, 255, 255, 255))

    result = render(make_request(images=(as_input(original),), mask=as_input(mask)))

    upper = (0, 0, 256, 200)  # the caption sits at the bottom
    assert difference(picture(result.data).crop(upper), original.crop(upper)) < 2


def test_a_mask_shaped_unlike_the_input_is_ignored():
    original = pattern(7)
    mask = Image.new("RGBA", (256, 128), (0, 0, 0, 255))  # fully opaque, but 2:1

    result = render(make_request(images=(as_input(original),), mask=as_input(mask)))

    upper = (0, 0, 256, 200)
    assert difference(picture(result.data).crop(upper), original.crop(upper)) > 8


@pytest.mark.parametrize("data", [b"not an image", as_input(pattern(1)).data[:200]])
def test_an_undecodable_input_is_a_bad_request(data):
    broken = InputImage(data, "image/png", 256, 256)

    with pytest.raises(ProviderError) as raised:
        render(make_request(images=(broken,)))

    assert raised.value.code == ErrorCode.BAD_REQUEST
    assert raised.value.retryable is False


def test_an_undecodable_mask_is_a_bad_request():
    request = make_request(
        images=(as_input(pattern(1)),), mask=InputImage(b"junk", "image/png", 256, 256)
    )

    with pytest.raises(ProviderError) as raised:
        render(request)

    assert raised.value.code == ErrorCode.BAD_REQUEST


def test_a_prompt_in_any_script_renders():
    result = render(
        make_request("深海のクラゲ \ud83c\udf0a and \x00 a café", width=512, height=512)
    )

    assert result.mime_type == "image/png"


def test_the_latency_setting_delays_the_image(settings):
    settings.PIXDASH_LOCAL_LATENCY_MS = 300

    started = time.monotonic()
    render(make_request(width=64, height=64))

    assert time.monotonic() - started >= 0.3


def test_rendering_does_not_block_the_event_loop():
    async def scenario() -> int:
        ticks = 0
        task = asyncio.create_task(LocalRenderer().generate(make_request(width=1024, height=1024)))
        while not task.done():
            await asyncio.sleep(0.002)
            ticks += 1
        await task
        return ticks

    # A render of 1024x1024 takes well over 10 ms; had it run on the loop, no tick would
    # have happened until it finished.
    assert asyncio.run(scenario()) >= 3
