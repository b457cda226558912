"""The gallery in a real browser: Back after a search, the grid, the lightbox, and
selecting several images for a favourite, a delete (undone) or a zip download."""

import io
import re
import zipfile
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from billing import ledger
from generator.models import OutputImage
from pixdash.accounts.teams import sign_up
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def studio(transactional_db, make_images):
    """Gil's team with a few images of different shapes and prompts."""
    user = sign_up(email="gil@example.test", password=PASSWORD, name="Gil")
    team = user.current_team
    ledger.credit(team=team, amount=Decimal("10"), reason="browser test")
    made = []
    for prompt, size in [
        ("A fox in the snow", "16:9"),
        ("A tall lighthouse", "9:16"),
        ("A square garden", "1:1"),
        ("Another fox at night", "3:2"),
    ]:
        made += make_images(user, team, prompt=prompt, size=size)
    return user, made


def _gallery(new_page, log_in, user, **context) -> Page:
    page = new_page(**context)
    log_in(page, user, "/gallery/")
    expect(page.get_by_role("heading", name="Gallery", level=1)).to_be_visible()
    return page


def test_back_after_a_search_restores_the_whole_page_with_its_filters(
    new_page, live_server, log_in, studio
):
    user, made = studio
    page = _gallery(new_page, log_in, user)
    page.get_by_label("Search prompts").press_sequentially("fox")
    expect(page).to_have_url(re.compile(r"q=fox"))
    expect(page.locator(".gallery-grid .tile")).to_have_count(2)
    page.get_by_label("Model").select_option(label="Offline preview")
    expect(page).to_have_url(re.compile(r"model=local-preview"))

    # Open an image's page, then come back with the browser's Back button.
    page.goto(
        live_server.url + page.locator(".gallery-grid .tile-link").first.get_attribute("href")
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("fox")
    page.go_back()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("heading", name="Gallery", level=1)).to_be_visible()
    expect(page.get_by_label("Search prompts")).to_have_value("fox")
    expect(page.locator(".gallery-grid .tile")).to_have_count(2)
    # The page's own stylesheet applies: no giant unstyled image.
    width = page.locator(".gallery-grid .tile img").first.bounding_box()["width"]
    assert width < 700, width


def test_pasting_into_search_filters(new_page, log_in, studio):
    user, _made = studio
    page = _gallery(new_page, log_in, user)
    search = page.get_by_label("Search prompts")
    search.focus()
    # A paste (from the menu or Ctrl+V) types no key; the search still runs.
    page.evaluate(
        """() => {
            const el = document.getElementById('id_q');
            el.value = 'lighthouse';
            const paste = {bubbles: true, inputType: 'insertFromPaste'};
            el.dispatchEvent(new InputEvent('input', paste));
        }"""
    )
    expect(page.locator(".gallery-grid .tile")).to_have_count(1)


def test_the_source_filter_shows_its_whole_label(new_page, log_in, studio):
    user, _made = studio
    for viewport in ({"width": 1366, "height": 900}, PHONE):
        page = _gallery(new_page, log_in, user, viewport=viewport)
        fits = page.locator("#id_source").evaluate(
            """el => { const probe = document.createElement('span');
                       probe.style.font = getComputedStyle(el).font;
                       probe.textContent = el.options[el.selectedIndex].text;
                       document.body.appendChild(probe);
                       const room = el.clientWidth - 36, need = probe.offsetWidth;
                       probe.remove(); return [need, room]; }"""
        )
        assert fits[0] <= fits[1], f"'Browser and API' is cut at {viewport}: {fits}"


def test_tiles_keep_each_images_aspect_ratio(new_page, log_in, studio, screenshot):
    user, made = studio
    page = _gallery(new_page, log_in, user, viewport={"width": 1366, "height": 900})
    for image in made:
        box = page.locator(f"#image-{image.pk}").bounding_box()
        assert abs(box["width"] / box["height"] - image.width / image.height) < 0.03, image
    screenshot(page, "gallery-1366")
    phone = _gallery(new_page, log_in, user, viewport=PHONE)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    screenshot(phone, "gallery-390")


def test_the_lightbox_zooms_and_walks_the_gallery_with_the_keyboard(
    new_page, log_in, studio, screenshot
):
    user, made = studio
    newest_first = sorted(made, key=lambda image: image.pk, reverse=True)
    page = _gallery(new_page, log_in, user, viewport={"width": 1366, "height": 900})
    page.locator(f"#image-{newest_first[0].pk} .tile-link").click()
    viewer = page.get_by_role("dialog", name="Image viewer")
    expect(viewer).to_be_visible()
    image = viewer.locator("[data-lightbox-image]")
    expect(image).to_have_attribute("src", f"/images/{newest_first[0].pk}/original")
    page.keyboard.press("ArrowRight")
    expect(image).to_have_attribute("src", f"/images/{newest_first[1].pk}/original")
    page.keyboard.press("ArrowLeft")
    expect(image).to_have_attribute("src", f"/images/{newest_first[0].pk}/original")
    fitted = image.bounding_box()["width"]
    page.keyboard.press("+")
    expect(viewer).to_have_attribute("data-zoom", "2")
    assert image.bounding_box()["width"] > fitted * 1.9
    screenshot(page, "gallery-lightbox")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(page.locator(f"#image-{newest_first[0].pk} .tile-link")).to_be_focused()


def test_select_several_then_favourite_delete_undo_and_download_a_zip(
    new_page, log_in, studio, screenshot
):
    user, made = studio
    page = _gallery(new_page, log_in, user)
    picked = made[:3]
    for image in picked:
        tile = page.locator(f"#image-{image.pk}")
        tile.hover()
        tile.get_by_role("checkbox").check()
    bar = page.get_by_role("form", name="Selected images")
    expect(bar).to_contain_text("3 selected")
    screenshot(page, "gallery-selecting")

    bar.get_by_role("button", name="♥ Favourite").click()
    expect(page.get_by_role("status").first).to_contain_text("3 images added to favourites.")
    assert OutputImage.objects.filter(favourite=True).count() == 3

    for image in picked[:2]:
        tile = page.locator(f"#image-{image.pk}")
        tile.hover()
        tile.get_by_role("checkbox").check()
    with page.expect_download() as download:
        bar.get_by_role("link", name="Download zip").click()
    names = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())).namelist()
    assert len(names) == 2

    page.once("dialog", lambda dialog: dialog.accept())
    bar.get_by_role("button", name="Delete").click()
    expect(page.locator("#undo-toast")).to_contain_text("2 images deleted.")
    expect(page.locator(".gallery-grid .tile")).to_have_count(len(made) - 2)
    page.locator("#undo-toast").get_by_role("button", name="Undo").click()
    expect(page.locator(".gallery-grid .tile")).to_have_count(len(made))
    assert not OutputImage.objects.filter(deleted_at__isnull=False).exists()
