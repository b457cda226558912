"""Every page passes axe-core (injected into Debian's Chromium by Playwright) with no
serious or critical violation, in light and in dark mode, at desktop and phone widths.

axe-core is vendored beside this file (tests/browser/vendor/axe.min.js, from the npm
registry's axe-core package, MPL-2.0): the suite needs no network.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Page

from billing import ledger
from pixdash.accounts.keys import create_api_key
from pixdash.accounts.models import Membership, Role, User
from pixdash.accounts.teams import create_invitation, create_team, sign_up
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
SEVERE = {"serious", "critical"}


@pytest.fixture
def world(transactional_db, make_images):
    owner = sign_up(email="ola@example.test", password=PASSWORD, name="Ola")
    team = owner.current_team
    ledger.credit(team=team, amount=Decimal("40"), reason="accessibility test")
    member = User.objects.create_user(email="max@example.test", password=PASSWORD, name="Max")
    Membership.objects.create(team=team, user=member, role=Role.MEMBER)
    (image,) = make_images(owner, team, prompt="A red kite over green hills")
    ledger.hold(team=team, amount=Decimal("2"), reference="running-job", user=owner)
    create_api_key(team=team, created_by=owner, name="Website", allowed_models=["local-preview"])
    create_invitation(team=team, invited_by=owner, email="new@example.test")
    _invitation, token = create_invitation(team=team, invited_by=owner)
    outsider = sign_up(email="out@example.test", password=PASSWORD, name="Out")
    create_team(owner=outsider, name="Elsewhere")
    return {
        "owner": owner,
        "team": team,
        "image": image,
        "token": token,
        "outsider_team": outsider.current_team,
    }


def _pages(world) -> list[str]:
    t = f"/t/{world['team'].slug}"
    image = world["image"]
    return [
        f"{t}/",
        f"{t}/?reuse={image.generation_id}",
        f"{t}/gallery/",
        f"{t}/images/{image.pk}/",
        f"{t}/compare/?g={image.generation_id}",
        f"{t}/activity/",
        f"{t}/models/",
        f"{t}/team/",
        f"{t}/keys/",
        f"{t}/webhooks/",
        f"{t}/billing/",
        f"{t}/billing/usage/",
        f"{t}/billing/receipts/{image.generation.public_id}/",
        "/teams/",
        "/accounts/password/change/",
        f"/t/{world['outsider_team'].slug}/gallery/",  # a team you are not in
        "/no-such-page/",
    ]


ANONYMOUS_PAGES = ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]


def _violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in result["violations"]:
        if violation["impact"] in SEVERE:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


def _log_in(page: Page, live_server, user) -> None:
    from django.conf import settings

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_has_no_serious_accessibility_violation(browser, live_server, world, scheme):
    problems = {}
    for viewport in ({"width": 1366, "height": 900}, PHONE):
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        try:
            page = context.new_page()
            for path in ANONYMOUS_PAGES + [f"/invitations/{world['token']}/"]:
                page.goto(live_server.url + path)
                if found := _violations(page):
                    problems[f"{path} {viewport['width']}"] = found
            _log_in(page, live_server, world["owner"])
            for path in _pages(world):
                page.goto(live_server.url + path)
                if found := _violations(page):
                    problems[f"{path} {viewport['width']}"] = found
        finally:
            context.close()
    assert not problems, "\n".join(f"{where}: {found}" for where, found in problems.items())


def _background_lightness(page: Page) -> float:
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (
        int(part) for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]
    )
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_dark_mode_follows_the_system_setting(browser, live_server, world, screenshot):
    lightness = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1366, "height": 900}, color_scheme=scheme)
        page = context.new_page()
        _log_in(page, live_server, world["owner"])
        page.goto(f"{live_server.url}/t/{world['team'].slug}/")
        lightness[scheme] = _background_lightness(page)
        screenshot(page, f"generator-{scheme}")
        context.close()
    assert lightness["light"] > 0.9 and lightness["dark"] < 0.15, lightness
