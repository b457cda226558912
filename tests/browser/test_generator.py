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

    # The detail view, and the arrow keys to the next (older) image.
    page.locator(f"#image-{edited.pk} .tile-link").click()
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
    for _press in range(60):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    expect(button).to_be_focused()
    assert button.evaluate("el => el.matches(':focus-visible')"), "no visible focus ring"
