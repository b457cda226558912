"""The non-developer's path in a real browser against a real Celery worker: sign up, get
credits, generate two images, watch them land, edit one, favourite, filter the gallery,
open the detail view, delete and undo; labels, alt text and keyboard focus checked, and
screenshots of the generator, gallery and detail pages at desktop and phone widths."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from billing import ledger
from generator.models import Generation, ImageModel, OutputImage
from pixdash.accounts.models import User
from tests.browser.test_team_and_keys import _assert_every_visible_field_is_labelled, _sign_up
from tests.e2e.conftest import start_worker

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    process = start_worker(tmp_path_factory.mktemp("browser-worker"))
    yield process
    process.stop()


@pytest.fixture
def small_catalog(transactional_db):
    """Render about 256 px, as tests/e2e's small_renders does: fast offline renders."""
    for image_model in ImageModel.objects.all():
        image_model.sizes = {"1:1": "256x256", "16:9": "448x256", "9:16": "256x448"}
        image_model.default_aspect_ratio = "1:1"
        image_model.save()


def _assert_images_have_alt_text(page: Page) -> None:
    for img in page.locator("main img").all():
        assert img.get_attribute("alt") is not None, img.evaluate("el => el.outerHTML")


def _wait_for_done(page: Page, job: Generation) -> None:
    card = page.locator(f"#job-{job.pk}")
    expect(card.get_by_test_id("job-status")).to_have_text("Done", timeout=60_000)


def test_a_designer_generates_edits_and_curates(
    new_page, live_server, worker, small_catalog, screenshot
):
    page = new_page()
    _sign_up(page, live_server, name="Dana", email="dana@example.test")
    team = User.objects.get(email="dana@example.test").current_team
    ledger.credit(team=team, amount=Decimal("50"), reason="browser test")

    page.get_by_role("link", name="Generate", exact=True).click()
    expect(page.get_by_role("heading", name="Generate images")).to_be_visible()
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    _assert_every_visible_field_is_labelled(page)
    screenshot(page, "generator-empty")

    page.get_by_label("Prompt").fill("A lighthouse at dusk, watercolour")
    page.get_by_role("radio", name=re.compile("^Nano Banana Demo")).check()
    page.get_by_label("Images", exact=True).fill("2")
    page.get_by_label("Images", exact=True).dispatch_event("change")
    expect(page.get_by_test_id("cost-line")).to_contain_text("2 images × 2 credits = 4 credits")
    expect(page.get_by_test_id("cost-line")).to_contain_text("balance 50")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".job")).to_have_count(1)

    job = Generation.objects.get(team=team)
    expect(page.locator(f"#job-{job.pk}")).to_be_visible()
    _wait_for_done(page, job)
    card = page.locator(f"#job-{job.pk}")
    expect(card.locator(".tile img")).to_have_count(2)
    expect(card).to_contain_text("4 credits charged")
    expect(card.get_by_text("Demo", exact=True)).to_be_visible()
    _assert_images_have_alt_text(page)
    screenshot(page, "generator-results")

    # Edit the first image: it becomes the reference of a new job with lineage.
    first = job.outputs.order_by("index").first()
    card.locator(f"#image-{first.pk}").hover()
    card.locator(f"#image-{first.pk}").get_by_role("link", name="Edit this image").click()
    expect(page.get_by_text("Editing an image")).to_be_visible()
    page.get_by_label("What should change?").fill("The same lighthouse at night")
    page.get_by_label("Images", exact=True).fill("1")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".job")).to_have_count(2)
    edit = Generation.objects.filter(team=team).exclude(pk=job.pk).get()
    assert edit.edited_from_id == first.pk
    assert edit.inputs.count() == 1
    _wait_for_done(page, edit)

    # Favourite it in place (htmx), without leaving the page.
    edited = edit.outputs.get()
    tile = page.locator(f"#image-{edited.pk}")
    tile.hover()
    tile.get_by_role("button", name="Favourite").click()
    expect(tile.get_by_role("button", name="Favourite")).to_have_attribute("aria-pressed", "true")
    assert OutputImage.objects.get(pk=edited.pk).favourite

    page.set_viewport_size(PHONE)
    screenshot(page, "generator-mobile")
    page.set_viewport_size({"width": 1280, "height": 860})

    # The gallery: all three, then only the favourite.
    page.get_by_role("link", name="Gallery", exact=True).click()
    expect(page.locator(".gallery-grid .tile")).to_have_count(3)
    _assert_every_visible_field_is_labelled(page)
    _assert_images_have_alt_text(page)
    screenshot(page, "gallery")
    page.get_by_label("Favourites only").check()
    expect(page.locator(".gallery-grid .tile")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"favourites=on"))
    page.get_by_label("Favourites only").uncheck()
    expect(page.locator(".gallery-grid .tile")).to_have_count(3)
    page.set_viewport_size(PHONE)
    screenshot(page, "gallery-mobile")
    page.set_viewport_size({"width": 1280, "height": 860})

    # The detail view (a plain link; a click opens the lightbox, tested with the gallery),
    # and the arrow keys to the next (older) image.
    page.goto(
        live_server.url + page.locator(f"#image-{edited.pk} .tile-link").get_attribute("href")
    )
    expect(page).to_have_url(re.compile(rf"/images/{edited.pk}/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("The same lighthouse at night")
    expect(page.locator(".facts")).to_contain_text("Edited from")
    expect(page.locator(".facts")).to_contain_text("Dana")
    _assert_images_have_alt_text(page)
    screenshot(page, "image-detail")
    page.set_viewport_size(PHONE)
    screenshot(page, "image-detail-mobile")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.keyboard.press("ArrowRight")
    expect(page).not_to_have_url(re.compile(rf"/images/{edited.pk}/"))
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(rf"/images/{edited.pk}/"))

    # Delete, then undo from the toast.
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Image deleted.")
    expect(page.locator(".gallery-grid .tile")).to_have_count(2)
    assert OutputImage.objects.get(pk=edited.pk).deleted_at is not None
    page.get_by_role("button", name="Undo").click()
    expect(page).to_have_url(re.compile(rf"/images/{edited.pk}/"))
    assert OutputImage.objects.get(pk=edited.pk).deleted_at is None


def test_the_generate_button_is_reachable_with_the_keyboard(new_page, live_server, small_catalog):
    page = new_page()
    _sign_up(page, live_server, name="Kay", email="kay@example.test")
    team = User.objects.get(email="kay@example.test").current_team
    ledger.credit(team=team, amount=Decimal("10"), reason="browser test")
    page.goto(f"{live_server.url}/")
    button = page.get_by_role("button", name="Generate")
    page.get_by_label("Prompt").focus()
    for _press in range(60):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    expect(button).to_be_focused()
    assert button.evaluate("el => el.matches(':focus-visible')"), "no visible focus ring"


# --- The generator page, as a newcomer finds it ------------------------------------------

DESKTOP_1366 = {"width": 1366, "height": 900}
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)


def _generator(new_page, log_in, user, **context):
    page = new_page(**context)
    log_in(page, user, "/")
    expect(page.get_by_role("heading", name="Generate images")).to_be_visible()
    return page


def _in_viewport(page: Page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["x"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] + box["width"] <= size["width"]
    )


def _pick_model(page: Page, name: str) -> None:
    # "Nano Banana Demo 2 credits / image", not "Nano Banana 2 Demo 4 credits / image".
    page.get_by_role(
        "radio", name=re.compile(rf"^{re.escape(name)} (Demo )?(\d+ credits?|Free)")
    ).check()


def test_the_generate_button_stays_in_view_wherever_the_page_is_scrolled(
    new_page, log_in, dana, make_images, screenshot
):
    for number in range(8):
        make_images(dana, dana.current_team, prompt=f"Job {number}", n=4)
    page = _generator(new_page, log_in, dana, viewport=DESKTOP_1366)
    button = page.get_by_role("button", name="Generate")
    cost = page.get_by_test_id("cost-line")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height > 2500, height
    for y in (0, 400, 1200, 2500, height):
        page.evaluate(f"window.scrollTo(0, {y})")
        assert _in_viewport(page, button), f"Generate is off-screen at scroll {y}"
        assert _in_viewport(page, cost), f"the cost line is off-screen at scroll {y}"
    # Tabbing from the prompt reaches the button where it can be seen.
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_label("Prompt").focus()
    for _press in range(40):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    expect(button).to_be_focused()
    assert _in_viewport(page, button)
    screenshot(page, "generator-scrolled-1366")


def test_the_form_keeps_the_prompt_and_settings_after_generate_and_clear_resets_it(
    new_page, log_in, dana
):
    page = _generator(new_page, log_in, dana)
    page.get_by_label("Prompt").fill("A red kite over the hills")
    _pick_model(page, "Nano Banana 2")
    page.get_by_label("Images", exact=True).fill("2")
    page.get_by_role("radio", name="16:9").check()
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".job")).to_have_count(1)
    assert Generation.objects.get().n == 2

    expect(page.get_by_label("Prompt")).to_have_value("A red kite over the hills")
    expect(page.get_by_role("radio", name=re.compile("^Nano Banana 2"))).to_be_checked()
    expect(page.get_by_label("Images", exact=True)).to_have_value("2")
    expect(page.locator("input[name=aspect_ratio][value='16:9']")).to_be_checked()

    page.get_by_role("link", name="Clear").click()
    expect(page.get_by_label("Prompt")).to_have_value("")
    expect(page.get_by_label("Images", exact=True)).to_have_value("1")
    expect(page.get_by_role("radio", name=re.compile("^Nano Banana Demo"))).to_be_checked()


def test_errors_are_shown_at_their_field_focused_and_announced(new_page, log_in, dana, tmp_path):
    page = _generator(new_page, log_in, dana, viewport=DESKTOP_1366)
    # Checked in the browser with the server's words: nothing is sent.
    page.get_by_role("button", name="Generate").click()
    prompt = page.get_by_label("Prompt")
    expect(prompt).to_be_focused()
    expect(prompt).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-prompt")).to_have_text("Describe the image you want.")
    expect(prompt).to_have_accessible_description(re.compile("Describe the image you want."))
    assert not Generation.objects.exists()

    # The cost line says what is wrong with the count instead of pricing a clamped one.
    page.get_by_label("Images", exact=True).fill("11")
    expect(page.get_by_test_id("cost-line")).to_have_text("Ask for at most 10 images at once.")
    expect(page.get_by_role("button", name="Generate")).to_be_disabled()
    page.get_by_label("Images", exact=True).fill("1")
    expect(page.get_by_role("button", name="Generate")).to_be_enabled()

    # An error only the server can find (the bytes are not an image) comes back to its
    # field, in view and focused, with the prompt still there.
    prompt.fill("Make it blue")
    fake = tmp_path / "photo.png"
    fake.write_text("<html>not an image</html>")
    page.set_input_files("#id_images", str(fake))
    page.get_by_role("button", name="Generate").click()
    upload = page.locator("#id_images")
    expect(upload).to_have_attribute("aria-invalid", "true")
    expect(upload).to_be_focused()
    error = page.locator("#error-images")
    expect(error).to_have_text(re.compile(r"^photo\.png: it must be a PNG, JPEG or WEBP"))
    assert _in_viewport(page, error)
    expect(prompt).to_have_value("Make it blue")
    assert not Generation.objects.exists()


def test_a_click_on_generate_right_after_editing_the_count_is_not_lost(new_page, log_in, dana):
    page = _generator(new_page, log_in, dana)
    page.get_by_label("Prompt").fill("A quiet harbour")
    page.get_by_label("Images", exact=True).fill("3")
    expect(page.get_by_test_id("cost-line")).to_contain_text("3 images × 2 credits")
    button = page.get_by_role("button", name="Generate")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # Pressing the mouse leaves the count field: its change refreshes the cost line while
    # the button is held down, as a person's click takes a moment.
    with page.expect_response(re.compile(r"/generate/cost/")):
        page.mouse.down()
    page.wait_for_timeout(100)
    page.mouse.up()
    expect(page.locator(".job")).to_have_count(1)
    assert Generation.objects.get().n == 3


def test_on_a_phone_the_header_is_slim_and_the_new_job_comes_into_view(
    new_page, log_in, dana, screenshot
):
    page = _generator(new_page, log_in, dana, viewport=PHONE)
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= 0.1 * PHONE["height"], header
    page.evaluate("window.scrollTo(0, 600)")
    assert page.locator("header.topbar").bounding_box()["y"] < 0, "the header stays pinned"
    page.get_by_label("Prompt").fill("A lighthouse at dusk")
    page.get_by_role("button", name="Generate").click()
    card = page.locator(".job").first
    expect(card).to_be_visible()
    page.wait_for_function("document.querySelector('.job').getBoundingClientRect().top >= 0")
    assert _in_viewport(page, card.locator(".job-title"))
    screenshot(page, "generator-phone-after-generate")


def test_the_price_shown_before_submit_is_what_is_held_with_a_fallback(new_page, log_in, dana):
    ImageModel.objects.filter(public_id="gemini-2.5-flash-image").update(
        fallback_models=["gemini-3-pro-image-preview"]
    )
    page = _generator(new_page, log_in, dana)
    page.get_by_label("Prompt").fill("A fox in the snow")
    _pick_model(page, "Nano Banana")
    expect(page.get_by_test_id("cost-total")).to_have_text("8 credits")
    expect(page.get_by_test_id("cost-line")).to_contain_text("costs 2 per image")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".job")).to_have_count(1)
    assert Generation.objects.get().credits_held == Decimal("8")


def test_uploads_are_checked_before_sending_kept_across_errors_and_removable(
    new_page, log_in, dana, tmp_path
):
    page = _generator(new_page, log_in, dana)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_label("Prompt").fill("Put a hat on it")

    big = tmp_path / "huge.png"
    big.write_bytes(PNG_1PX + b"\0" * (25 * 1024 * 1024))
    page.set_input_files("#id_images", str(big))
    expect(page.locator("#error-images")).to_have_text("huge.png: the file is larger than 20 MB.")
    expect(page.locator(".previews [data-picked]")).to_have_count(0)
    assert posts == []

    one, two = tmp_path / "one.png", tmp_path / "two.png"
    one.write_bytes(PNG_1PX)
    two.write_bytes(PNG_1PX)
    page.set_input_files("#id_images", [str(one), str(two)])
    expect(page.locator(".previews [data-picked]")).to_have_count(2)
    page.get_by_role("button", name="Remove one.png").click()
    expect(page.locator(".previews [data-picked]")).to_have_count(1)
    assert page.evaluate("document.getElementById('id_images').files.length") == 1

    # A refusal from the server (here: credits spent elsewhere since the page priced the
    # job) keeps the picked file and the prompt.
    _pick_model(page, "Nano Banana Pro")
    expect(page.get_by_test_id("cost-total")).to_have_text("8 credits")
    ledger.hold(team=dana.current_team, amount=Decimal("45"), reference="elsewhere")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#form-errors")).to_contain_text("Not enough credits")
    assert page.evaluate("document.getElementById('id_images').files.length") == 1
    expect(page.locator(".previews [data-picked]")).to_have_count(1)
    expect(page.get_by_label("Prompt")).to_have_value("Put a hat on it")


def test_switching_to_a_model_without_the_ratio_says_what_it_renders(new_page, log_in, dana):
    page = _generator(new_page, log_in, dana)
    page.get_by_role("radio", name="16:9").check()
    _pick_model(page, "GPT Image 1.5")
    expect(page.get_by_test_id("ratio-note")).to_have_text(
        "GPT Image 1.5 has no 16:9: it will render 3:2, the closest it offers."
    )
    expect(page.locator("input[name=aspect_ratio][value='3:2']")).to_be_checked()


def test_reuse_settings_fills_the_form_and_ctrl_enter_generates(
    new_page, log_in, dana, make_images
):
    (image,) = make_images(dana, dana.current_team, prompt="A teal bicycle", n=1, size="16:9")
    page = _generator(new_page, log_in, dana)
    page.goto(page.url.rstrip("/") + "/gallery/")
    tile = page.locator(f"#image-{image.pk}")
    tile.hover()
    tile.get_by_role("link", name="Reuse these settings").click()
    expect(page.get_by_label("Prompt")).to_have_value("A teal bicycle")
    expect(page.get_by_role("radio", name=re.compile("^Offline preview"))).to_be_checked()
    expect(page.locator("input[name=aspect_ratio][value='16:9']")).to_be_checked()
    page.get_by_label("Prompt").press("Control+Enter")
    expect(page.locator(".job")).to_have_count(2)
    again = Generation.objects.order_by("-pk").first()
    assert (again.prompt, again.aspect_ratio) == ("A teal bicycle", "16:9")
