"""In a real browser: a team owner sets how long the team keeps its images."""

import pytest
from playwright.sync_api import expect

from pixdash.accounts.models import Team
from tests.browser.test_team_and_keys import _sign_up

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("viewport", "name"),
    [({"width": 1366, "height": 900}, "desktop"), ({"width": 390, "height": 844}, "phone")],
)
def test_an_owner_sets_the_retention_on_the_team_page(
    new_page, live_server, screenshot, viewport, name
):
    page = new_page(viewport=viewport)
    _sign_up(page, live_server, name="Olga", email=f"olga-{name}@example.test")
    slug = Team.objects.get(memberships__user__email=f"olga-{name}@example.test").slug
    page.goto(f"{live_server.url}/t/{slug}/team/")

    field = page.get_by_label("Keep images for (days)")
    expect(field).to_be_visible()
    field.fill("30")
    page.locator("#retention").get_by_role("button", name="Save").click()

    expect(page.get_by_text("Images are now kept for 30 days.")).to_be_visible()
    expect(page.locator("#retention")).to_contain_text("Images older than 30 days")
    assert (
        Team.objects.get(memberships__user__email=f"olga-{name}@example.test").image_retention_days
        == 30
    )
    screenshot(page, f"team-retention-{name}")
