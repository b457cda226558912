"""Edits sent as JSON: images as data URLs or https URLs, with the same limits, sniffing
and re-encoding as multipart uploads, URLs fetched under the outbound rules."""

import base64
import io
import json
from decimal import Decimal

import pytest
from PIL import Image

from billing import ledger
from generator.models import Generation, InputImage
from tests.generator.conftest import assert_error, png_bytes
from tests.generator.test_api_edits import assert_nothing_happened, bomb_png
from tests.receiver import Receiver, Reply

pytestmark = pytest.mark.usefixtures("audit_ledger")


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def edit_json(client, key, images: list[str], path="/v1/images/edits", **fields):
    body = {
        "model": "nano-banana",
        "prompt": "make it blue",
        "images": [{"image_url": url} for url in images],
        **fields,
    }
    return client.post(
        path, data=json.dumps(body), content_type="application/json", headers=key.headers
    )


@pytest.fixture
def image_host(settings):
    """A server on 127.0.0.1 that serves images; loopback is allowed for these tests."""
    settings.PIXDASH_OUTBOUND_ALLOW_PRIVATE = True
    with Receiver() as host:
        yield host


def serve(host: Receiver, path: str, data: bytes, **reply) -> str:
    host.replies[path] = Reply(body=data, headers={"Content-Type": "image/png"}, **reply)
    return host.url(path)


def colour(image) -> tuple:
    return Image.open(io.BytesIO(image.data)).getpixel((0, 0))


def test_data_url_images_are_edited_like_uploads(client, alice, alice_key, fake_gemini):
    colours = [(255, 0, 0), (0, 0, 255)]
    urls = [data_url(png_bytes(color=c)) for c in colours]

    response = edit_json(client, alice_key, urls)

    assert response.status_code == 200, response.content
    assert response.json()["usage"] == {"images": 1, "credits": "2.00"}
    (call,) = fake_gemini.calls
    assert [colour(image) for image in call.images] == colours
    assert InputImage.objects.filter(role=InputImage.Role.IMAGE).count() == 2
    assert ledger.balance(alice.team) == Decimal("98.00")


def test_https_urls_are_fetched_and_checked(client, alice_key, fake_gemini, image_host):
    url = serve(image_host, "/fox.png", png_bytes(color=(0, 255, 0)))

    response = edit_json(client, alice_key, [url])

    assert response.status_code == 200, response.content
    (call,) = fake_gemini.calls
    assert colour(call.images[0]) == (0, 255, 0)
    assert image_host.received[0].method == "GET"


def test_a_mask_by_data_url_is_applied(client, alice_key, fake_gemini):
    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(buffer, "PNG")

    response = edit_json(
        client,
        alice_key,
        [data_url(png_bytes())],
        mask={"image_url": data_url(buffer.getvalue())},
    )

    assert response.status_code == 200, response.content
    assert InputImage.objects.filter(role=InputImage.Role.MASK).count() == 1


def test_the_type_is_sniffed_not_taken_from_the_data_url(client, alice_key, fake_gemini):
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(jpeg, "JPEG")

    response = edit_json(client, alice_key, [data_url(jpeg.getvalue(), mime="image/gif")])

    assert response.status_code == 200, response.content
    # Re-encoded as PNG before the provider sees it, whatever came in.
    assert fake_gemini.calls[0].images[0].data.startswith(b"\x89PNG")


def test_an_async_json_edit_is_queued_with_its_images(client, alice_key, fake_gemini, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "generator.tasks.run_generation.apply_async", lambda args=None, **_: queued.extend(args)
    )

    response = edit_json(client, alice_key, [data_url(png_bytes())], path="/v1/async/images/edits")

    assert response.status_code == 202, response.content
    assert queued == [Generation.objects.get().pk]
    assert Generation.objects.get().inputs.count() == 1


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("data:image/png;base64,%%%notbase64", 400, "invalid_request_error"),
        ("data:image/png,rawbytes", 400, "invalid_request_error"),
        (data_url(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), 400, "invalid_request_error"),
        (data_url(png_bytes()[:60]), 400, "invalid_request_error"),
        (data_url(bomb_png()), 400, "invalid_request_error"),
        ("ftp://example.com/a.png", 400, "invalid_request_error"),
    ],
)
def test_bad_images_are_refused_naming_the_image(
    client, alice, alice_key, fake_gemini, url, status, code
):
    response = edit_json(client, alice_key, [data_url(png_bytes()), url])

    assert_error(response, status, code, "images.1.image_url" if url[:3] == "ftp" else "images[1]")
    assert_nothing_happened(alice, fake_gemini)


def test_a_data_url_over_20_mb_is_a_413(client, alice, alice_key, fake_gemini, settings):
    huge = "data:image/png;base64," + "A" * (28 * 1024 * 1024)

    response = edit_json(client, alice_key, [huge])

    assert_error(response, 413, "request_too_large", "images[0]")
    assert_nothing_happened(alice, fake_gemini)


def test_a_body_over_the_upload_limit_is_a_413(client, alice, alice_key, fake_gemini, settings):
    settings.PIXDASH_MAX_UPLOAD_BYTES = 100

    response = edit_json(client, alice_key, [data_url(png_bytes())])

    assert_error(response, 413, "request_too_large")
    assert_nothing_happened(alice, fake_gemini)


def test_too_many_images_for_the_model_are_a_400(client, alice, alice_key, fake_gemini):
    response = edit_json(client, alice_key, [data_url(png_bytes())] * 4)

    assert_error(response, 400, "invalid_request_error", "image")
    assert_nothing_happened(alice, fake_gemini)


def test_an_image_url_on_a_private_address_is_refused(client, alice, alice_key, fake_gemini):
    for url in ("https://127.0.0.1/a.png", "https://169.254.169.254/latest", "http://x.test/a"):
        response = edit_json(client, alice_key, [url])
        assert_error(response, 400, "invalid_request_error", "images[0]")
    assert_nothing_happened(alice, fake_gemini)


def test_a_url_that_redirects_is_not_followed(client, alice, alice_key, fake_gemini, image_host):
    serve(image_host, "/real.png", png_bytes())
    image_host.replies["/moved.png"] = Reply(302, headers={"Location": image_host.url("/real.png")})

    response = edit_json(client, alice_key, [image_host.url("/moved.png")])

    error = assert_error(response, 400, "invalid_request_error", "images[0]")
    assert "HTTP 302" in error["message"]
    assert [r.path for r in image_host.received] == ["/moved.png"]
    assert_nothing_happened(alice, fake_gemini)


def test_what_the_image_host_says_is_not_passed_on(
    client, alice, alice_key, fake_gemini, image_host
):
    image_host.replies["/gone.png"] = Reply(404, body=b"internal path /srv/secret missing")

    response = edit_json(client, alice_key, [image_host.url("/gone.png")])

    error = assert_error(response, 400, "invalid_request_error", "images[0]")
    assert "secret" not in error["message"]
    assert_nothing_happened(alice, fake_gemini)


def test_an_image_over_20_mb_at_a_url_is_a_413(client, alice, alice_key, fake_gemini, image_host):
    url = serve(image_host, "/big.png", b"\x89PNG" + b"\0" * (21 * 1024 * 1024))

    response = edit_json(client, alice_key, [url])

    assert_error(response, 413, "request_too_large", "images[0]")
    assert_nothing_happened(alice, fake_gemini)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"images": []}, "images"),
        ({"images": "data:image/png;base64,AAAA"}, "images"),
        ({"images": [{"url": "x"}]}, "images.0.image_url"),
        ({"api_key": "sk-x"}, "api_key"),
        ({"n": 0}, "n"),
    ],
)
def test_bad_fields_are_400s_naming_them(client, alice, alice_key, fake_gemini, body, param):
    full = {"model": "nano-banana", "prompt": "x", "images": [{"image_url": "data:,"}], **body}
    response = client.post(
        "/v1/images/edits",
        data=json.dumps(full),
        content_type="application/json",
        headers=alice_key.headers,
    )

    assert_error(response, 400, "invalid_request_error", param)
    assert_nothing_happened(alice, fake_gemini)
