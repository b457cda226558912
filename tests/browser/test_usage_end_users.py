"""The usage page's end users in a real browser: the by-end-user table, and filtering the
page (and its CSV link) by one end user; desktop and phone."""

import pytest
from playwright.sync_api import expect

from billing import ledger
from pixdash.accounts.teams import sign_up

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def test_a_manager_filters_usage_by_end_user(
    new_page, live_server, log_in, screenshot, make_images, transactional_db
):
    user = sign_up(email="uma@example.test", password="pw-long-enough-1", name="Uma")
    team = user.current_team
    ledger.credit(team=team, amount=100, reason="test")
    for end_user, n in (("shop-42", 2), ("shop-7", 1), ("shop-42", 1)):
        make_images(user, team, n=n, end_user=end_user)
    usage_url = f"/t/{team.slug}/billing/usage/"
    page = log_in(new_page(viewport=DESKTOP), user, usage_url)

    table = page.get_by_test_id("by-end-user")
    expect(table).to_contain_text("shop-42")
    expect(table).to_contain_text("shop-7")
    table.get_by_role("link", name="shop-42").click()

    expect(page.get_by_test_id("end-user-filtered")).to_contain_text("shop-42")
    expect(page.get_by_test_id("total-images")).to_have_text("3")
    expect(page.get_by_role("textbox", name="End user")).to_have_value("shop-42")
    csv_link = page.get_by_role("link", name="Export CSV")
    expect(csv_link).to_have_attribute(
        "href", f"/t/{team.slug}/billing/usage.csv?days=30&end_user=shop-42"
    )
    page.get_by_role("link", name="Images", exact=True).click()  # keeps the filter
    expect(page.get_by_test_id("end-user-filtered")).to_contain_text("shop-42")
    expect(page.locator("[data-testid=usage-chart] rect")).to_have_count(1)
    screenshot(page, "usage-end-user")

    page.get_by_role("link", name="Show everyone").click()
    expect(page.get_by_test_id("total-images")).to_have_text("4")

    phone = log_in(new_page(viewport=PHONE), user, f"{usage_url}?end_user=shop-7")
    expect(phone.get_by_test_id("total-images")).to_have_text("1")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    screenshot(phone, "usage-end-user-phone")
