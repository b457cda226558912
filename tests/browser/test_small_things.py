"""The smaller things a newcomer tripped over, each in a real browser: a sole owner is not
offered a Leave that would be refused; "just now", not "0 minutes ago"; a code your team
already used says so; Pixdash's own 404 page in debug mode; the activity log at desktop and
phone widths."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing import ledger, topups
from billing.models import RedeemBatch
from pixdash.accounts.keys import create_api_key
from pixdash.accounts.models import ApiKey
from pixdash.accounts.teams import sign_up
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def owner(transactional_db):
    user = sign_up(email="sol@example.test", password=PASSWORD, name="Sol")
    ledger.credit(team=user.current_team, amount=Decimal("20"), reason="browser test")
    return user


def test_a_sole_owner_is_told_how_to_leave_instead_of_being_refused(new_page, log_in, owner):
    page = log_in(new_page(), owner, "/team/")
    expect(page.get_by_role("button", name="Leave team")).to_have_count(0)
    expect(page.get_by_test_id("sole-owner")).to_contain_text("make someone else owner")


def test_a_key_used_a_moment_ago_reads_just_now(new_page, log_in, owner):
    api_key, _raw = create_api_key(team=owner.current_team, created_by=owner, name="Script")
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
    page = log_in(new_page(), owner, "/keys/")
    row = page.locator(f"#key-{api_key.pk}")
    expect(row).to_contain_text("just now")
    expect(row).not_to_contain_text("0 minutes")


def test_a_code_the_team_already_redeemed_says_so(new_page, log_in, owner):
    batch = RedeemBatch.objects.create(name="b", credits=Decimal("5"), uses_per_code=1, count=1)
    (code,) = topups.generate_codes(batch)
    topups.redeem(team=owner.current_team, user=owner, code=code)
    page = log_in(new_page(), owner, "/billing/")
    page.get_by_label("Redeem code").fill(code)
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("alert")).to_have_text("Your team already redeemed this code.")


def test_in_debug_a_missing_page_is_pixdashs_own_404(new_page, log_in, owner, settings):
    settings.DEBUG = True
    page = log_in(new_page(), owner, "/no-such-page/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_role("link", name="Back to Pixdash")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("URLconf")


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900}, PHONE])
def test_the_activity_log_filters_by_status(new_page, log_in, owner, make_images, viewport):
    make_images(owner, owner.current_team, prompt="A finished job")
    page = log_in(new_page(viewport=viewport), owner, "/activity/")
    table = page.get_by_test_id("activity")
    expect(table).to_contain_text("A finished job")
    page.get_by_label("Status").select_option(label="Failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(page.get_by_text("Nothing matches these filters.")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
