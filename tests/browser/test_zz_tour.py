import pytest
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from django.test import Client
from django.utils import timezone

from pixdash.accounts.keys import create_api_key, revoke_api_key
from pixdash.accounts.models import Membership, Role, User, ApiKey
from pixdash.accounts.teams import sign_up, create_invitation, create_team

pytestmark = pytest.mark.browser
OUT = Path("test-artifacts/tour")
OUT.mkdir(parents=True, exist_ok=True)
PW = "correct horse battery staple"


def login(browser, live_server, user, width):
    c = Client()
    c.force_login(user)
    ctx = browser.new_context(viewport={"width": width, "height": 860})
    ctx.add_cookies(
        [{"name": "sessionid", "value": c.cookies["sessionid"].value, "url": live_server.url}]
    )
    return ctx


def shot(page, name, width):
    page.screenshot(path=str(OUT / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_tour(browser, live_server, width):
    alice = sign_up(email="alice@acme.test", password=PW, name="Alice Anderson")
    team = alice.current_team
    team.name = "Acme Creative Studio"
    team.save()
    bob = User.objects.create_user(
        email="bob.with.a.rather.long.address@acme-example.test", password=PW, name="Bob"
    )
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    bob.current_team = team
    bob.save()
    carol = User.objects.create_user(email="carol@acme.test", password=PW)
    Membership.objects.create(team=team, user=carol, role=Role.ADMIN)
    inv, token = create_invitation(team=team, invited_by=alice, email="dana@example.test")
    create_invitation(team=team, invited_by=alice, email="", role=Role.ADMIN)
    create_team(owner=alice, name="Side project")
    alice.current_team = team
    alice.save()
    k1, _ = create_api_key(team=team, created_by=alice, name="Website backend")
    k2, _ = create_api_key(
        team=team,
        created_by=bob,
        name="Batch thumbnails job for the marketing site",
        allowed_models=["nano-banana", "gpt-image-1.5"],
        monthly_credit_limit=Decimal("250"),
        expires_at=timezone.now() + timedelta(days=30),
    )
    k3, _ = create_api_key(team=team, created_by=alice, name="Old script")
    revoke_api_key(api_key=k3, revoked_by=alice)
    k4, _ = create_api_key(team=team, created_by=carol, name="Expired demo")
    ApiKey.objects.filter(pk=k4.pk).update(
        expires_at=timezone.now() - timedelta(days=2),
        last_used_at=timezone.now() - timedelta(days=3),
    )

    anon = browser.new_context(viewport={"width": width, "height": 860})
    p = anon.new_page()
    p.goto(live_server.url + "/accounts/signup/")
    shot(p, "signup", width)
    p.get_by_role("button", name="Create account").click()
    shot(p, "signup-errors", width)
    p.goto(live_server.url + "/accounts/login/")
    shot(p, "login", width)
    p.get_by_role("button", name="Log in").click()
    shot(p, "login-errors", width)
    p.goto(live_server.url + "/accounts/password/reset/")
    shot(p, "password-reset", width)
    p.goto(live_server.url + f"/invitations/{token}/")
    shot(p, "invitation-anon", width)
    p.goto(live_server.url + f"/invitations/nonsense/")
    shot(p, "invitation-notfound", width)
    p.goto(live_server.url + "/nowhere/")
    shot(p, "404", width)
    anon.close()

    ctx = login(browser, live_server, alice, width)
    p = ctx.new_page()
    p.goto(live_server.url + "/team/")
    shot(p, "team-owner", width)
    p.get_by_label("E-mail (optional)").fill("erin@example.test")
    p.get_by_role("button", name="Create invitation").click()
    shot(p, "team-invite-created", width)
    p.goto(live_server.url + "/teams/")
    shot(p, "teams", width)
    p.goto(live_server.url + "/keys/")
    shot(p, "keys", width)
    p.get_by_label("Name", exact=True).fill("New key")
    p.get_by_role("button", name="Create key").click()
    shot(p, "keys-new", width)
    p.get_by_role("button", name="Create key").click()
    shot(p, "keys-error", width)
    p.goto(live_server.url + "/accounts/password/change/")
    shot(p, "password-change", width)
    p.goto(live_server.url + "/team/")
    p.locator("summary").click()
    p.screenshot(path=str(OUT / f"usermenu-{width}.png"))
    ctx.close()

    ctx = login(browser, live_server, bob, width)
    p = ctx.new_page()
    p.goto(live_server.url + "/team/")
    shot(p, "team-member", width)
    p.goto(live_server.url + "/keys/")
    shot(p, "keys-member", width)
    ctx.close()
    dana = User.objects.create_user(email="dana@example.test", password=PW, name="Dana")
    ctx = login(browser, live_server, dana, width)
    p = ctx.new_page()
    p.goto(live_server.url + f"/invitations/{token}/")
    shot(p, "invitation-loggedin", width)
    p.goto(live_server.url + "/team/")
    shot(p, "no-team", width)
    ctx.close()
