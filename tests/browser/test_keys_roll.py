"""The API keys page in a real browser: a read-only key (scopes chosen at creation), then
rolled with a grace period; both keys listed with their last use; desktop and phone."""

import re

import pytest
from playwright.sync_api import expect

from pixdash.accounts.keys import find_active_key
from pixdash.accounts.teams import sign_up
from tests.browser.test_team_and_keys import _assert_every_visible_field_is_labelled

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def test_a_read_only_key_is_created_then_rolled_with_a_grace_period(
    new_page, live_server, log_in, screenshot, transactional_db
):
    user = sign_up(email="rita@example.test", password="pw-long-enough-1", name="Rita")
    keys_url = f"/t/{user.current_team.slug}/keys/"
    page = log_in(new_page(viewport=DESKTOP), user, keys_url)
    _assert_every_visible_field_is_labelled(page)

    page.get_by_label("Name", exact=True).fill("Grafana")
    page.get_by_label(re.compile(r"images:generate")).uncheck()
    page.get_by_label(re.compile(r"images:edit")).uncheck()
    page.get_by_label("Require the user field").check()
    page.get_by_role("button", name="Create key").click()
    old_raw = page.get_by_test_id("new-key").inner_text().strip()
    old = find_active_key(old_raw)
    assert old.scopes == ["tasks:read", "usage:read"] and old.require_end_user
    expect(page.locator(f"#key-{old.pk}").get_by_test_id("key-scopes")).to_contain_text(
        "tasks:read usage:read"
    )

    row = page.locator(f"#key-{old.pk}")
    row.get_by_text("Roll…").click()
    row.get_by_label("The old key keeps working for").select_option(label="24 hours")
    row.get_by_role("button", name="Roll key").click()

    expect(page.get_by_test_id("rolled-note")).to_contain_text("keeps working until")
    new_raw = page.get_by_test_id("new-key").inner_text().strip()
    assert new_raw != old_raw
    successor = find_active_key(new_raw)
    assert successor.rolled_from_id == old.pk and successor.scopes == old.scopes
    assert find_active_key(old_raw) is not None
    expect(page.locator(f"#key-{old.pk}").get_by_test_id("rolled-to")).to_be_visible()
    expect(page.locator(f"#key-{successor.pk}")).to_contain_text("rolled from")
    screenshot(page, "keys-rolled")

    phone = log_in(new_page(viewport=PHONE), user, keys_url)
    expect(phone.locator(f"#key-{old.pk}")).to_contain_text("rolled to")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    screenshot(phone, "keys-rolled-phone")
