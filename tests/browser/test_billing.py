"""Billing in a real browser: an owner redeems a code and watches the balance change,
sees the usage chart, and the pages are screenshotted at desktop and phone widths."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing import ledger, topups
from billing.models import LedgerEntry, RedeemBatch, UsageDaily
from pixdash.accounts.models import ApiKey, Membership, Role, User
from pixdash.accounts.teams import sign_up
from pixdash.accounts.templatetags.formatting import credits

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
PHONE = {"width": 390, "height": 844}


def _log_in(page: Page, live_server, email: str) -> None:
    """Hand the browser a session cookie (the login form has its own browser tests)."""
    client = Client()
    client.force_login(User.objects.get(email=email))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/team/")


@pytest.fixture
def owner(transactional_db):
    user = sign_up(email="olga@studio.test", password=PASSWORD, name="Olga")
    team = user.current_team
    team.name = "Studio"
    team.save()
    ledger.credit(team=team, amount=Decimal("240"), reason="Welcome credits")
    bob = User.objects.create_user(email="ben@studio.test", password=PASSWORD, name="Ben")
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    key = ApiKey.objects.create(
        team=team,
        created_by=user,
        name="website",
        prefix="pd_live_ab12",
        digest="0" * 64,
        monthly_credit_limit=Decimal("300"),
    )
    # Three weeks of history in the rollup (as ledger.settle() writes it) and the ledger.
    today = timezone.localdate()
    plan = [("gemini-2.5-flash-image", 2), ("gemini-3-pro-image-preview", 8), ("local-preview", 1)]
    for back in range(21):
        for i, (model, price) in enumerate(plan):
            images = (back * 7 + i * 3) % 9 + (2 if i == 0 else 0)
            if not images:
                continue
            UsageDaily.objects.create(
                team=team,
                day=today - timedelta(days=back),
                model=model,
                api_key=key if i == 0 else None,
                user=None if i == 0 else (user if back % 2 else bob),
                generations=max(1, images // 2),
                images=images,
                credits=Decimal(images * price),
            )
    for n in range(6):
        reference = f"01JDEMO{n:019d}"
        ledger.hold(
            team=team,
            amount=Decimal("8"),
            reference=reference,
            model="gemini-3-pro-image-preview",
            images=2,
            user=user if n % 2 else bob,
        )
        ledger.settle(reference=reference, charged=Decimal("4" if n == 2 else "8"), images=2)
    return user


def test_an_owner_redeems_a_code_and_sees_usage(new_page, live_server, owner, screenshot):
    batch = RedeemBatch.objects.create(
        name="launch", credits=Decimal("150"), uses_per_code=1, count=1
    )
    (code,) = topups.generate_codes(batch)
    page = new_page()
    _log_in(page, live_server, "olga@studio.test")
    page.get_by_role("link", name="Billing").click()
    balance = page.get_by_test_id("balance")
    before = ledger.balance(owner.current_team)
    expect(balance).to_have_text(credits(before))

    page.get_by_label("Redeem code").fill("PIX-0000-0000-0000-0000")
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not valid.")

    page.get_by_label("Redeem code").fill(code)
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text("Code redeemed: 150 credits added.")).to_be_visible()
    expect(balance).to_have_text(credits(before + 150))
    assert LedgerEntry.objects.filter(kind="redeem").count() == 1
    expect(page.get_by_test_id("forecast")).to_be_visible()
    screenshot(page, "billing")

    page.get_by_role("link", name="Usage & limits").click()
    chart = page.get_by_test_id("usage-chart")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() > 20
    page.get_by_role("link", name="90 days").click()
    expect(page.get_by_role("link", name="90 days")).to_have_attribute("aria-current", "page")
    page.get_by_role("link", name="30 days").click()
    screenshot(page, "billing-usage")

    phone = new_page(viewport=PHONE)
    _log_in(phone, live_server, "olga@studio.test")
    phone.goto(f"{live_server.url}/billing/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the billing page scrolls sideways on a phone ({width}px)"
    screenshot(phone, "billing-mobile")
    phone.goto(f"{live_server.url}/billing/usage/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the usage page scrolls sideways on a phone ({width}px)"
    screenshot(phone, "billing-usage-mobile")


def test_a_member_sees_the_balance_but_no_top_up(new_page, live_server, owner):
    page = new_page()
    _log_in(page, live_server, "ben@studio.test")
    page.goto(f"{live_server.url}/billing/")
    expect(page.get_by_test_id("balance")).to_be_visible()
    expect(page.get_by_label("Redeem code")).to_have_count(0)
    expect(page.get_by_role("heading", name="Your charges")).to_be_visible()


def test_the_statement_shows_one_line_per_generation_in_plain_words(
    new_page, live_server, owner, make_images, screenshot
):
    made = make_images(owner, owner.current_team, model="gemini-2.5-flash-image", n=2)
    page = new_page()
    _log_in(page, live_server, "olga@studio.test")
    page.get_by_role("link", name="Billing").click()
    table = page.locator(".ledger-table tbody")
    # Seven generations and the welcome credits: eight lines, no separate releases.
    expect(table.locator("tr")).to_have_count(8)
    expect(table).not_to_contain_text("Release")
    first = table.locator("tr").first
    expect(first).to_contain_text("Nano Banana · 2 images")
    expect(first).not_to_contain_text("gemini-2.5-flash-image")
    expect(first.get_by_test_id("ledger-amount")).to_have_text("−4")
    # The job's first image stands for it (one query for the whole page).
    expect(first.locator(".ledger-thumbs img")).to_have_count(1)
    assert len(made) == 2
    refunded = table.locator("tr", has_text="4 given back")
    expect(refunded.get_by_test_id("ledger-amount")).to_have_text("−4")
    expect(refunded.get_by_role("link", name="Receipt")).to_be_visible()
    expect(table.locator("tr").last).to_contain_text("Credits from the operator")
    expect(page.get_by_test_id("balance")).to_have_text(re.compile(r"^\d[\d,]*$"))
    expect(page.locator("main")).not_to_contain_text("STRIPE_SECRET_KEY")
    screenshot(page, "billing-statement")
    phone = new_page(viewport=PHONE)
    _log_in(phone, live_server, "olga@studio.test")
    phone.goto(live_server.url + page.url.split(live_server.url)[1])
    screenshot(phone, "billing-statement-390")
