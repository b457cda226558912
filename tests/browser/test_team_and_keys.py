"""End to end in a real browser: sign up, invite a teammate who joins through the link,
create an API key that works, revoke it in place; plus labels and keyboard reach."""

import re

import pytest
from playwright.sync_api import Page, expect

from pixdash.accounts.keys import find_active_key
from pixdash.accounts.models import Invitation, Membership, Role, User

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


def _sign_up(page: Page, live_server, *, name: str, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Your name", exact=True).fill(name)
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    # New users land on the generator, their team's home.
    expect(page).to_have_url(re.compile(rf"^{live_server.url}/t/[-\w]+/$"))


def _assert_every_visible_field_is_labelled(page: Page) -> None:
    fields = page.locator("input:not([type=hidden]), select, textarea")
    checked = 0
    for index in range(fields.count()):
        field = fields.nth(index)
        if not field.is_visible():
            continue
        checked += 1
        # A <label> tied to the field, not just a placeholder, and a non-empty name from it.
        has_label = field.evaluate("el => el.labels !== null && el.labels.length > 0")
        assert has_label, f"unlabelled field: {field.evaluate('el => el.outerHTML')}"
        expect(field).to_have_accessible_name(re.compile(r"\w"))
    assert checked, "no visible fields found"


def test_a_new_user_invites_a_teammate_who_joins_through_the_link(
    new_page, live_server, screenshot
):
    page = new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    _assert_every_visible_field_is_labelled(page)
    screenshot(page, "signup")

    _sign_up(page, live_server, name="Ada", email="ada@example.test")
    expect(page.get_by_role("status")).to_contain_text("Welcome to Pixdash!")
    page.get_by_role("link", name="Team", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada's team")
    ada = User.objects.get(email="ada@example.test")
    team = ada.current_team
    assert Membership.objects.get(user=ada, team=team).role == Role.OWNER

    page.get_by_label("E-mail (optional)").fill("grace@example.test")
    page.get_by_role("button", name="Create invitation").click()
    link = page.locator("#invite-link")
    expect(link).to_contain_text("/invitations/")
    invite_url = link.inner_text().strip()
    assert invite_url.startswith(f"{live_server.url}/invitations/")
    invitation = Invitation.objects.get(team=team)
    assert invitation.email == "grace@example.test"
    assert invitation.is_pending

    teammate = new_page()
    teammate.goto(invite_url)
    expect(teammate.get_by_role("heading", name="Join Ada's team")).to_be_visible()
    teammate.get_by_role("link", name="Create an account to join").click()
    expect(teammate.get_by_text("You were invited to join")).to_be_visible()
    expect(teammate.get_by_label("E-mail", exact=True)).to_have_value("grace@example.test")
    teammate.get_by_label("Your name", exact=True).fill("Grace")
    teammate.get_by_label("Password", exact=True).fill(PASSWORD)
    teammate.get_by_role("button", name="Create account").click()

    # Signing up through the link accepts the invitation: no second click.
    expect(teammate).to_have_url(re.compile(rf"^{live_server.url}/t/[-\w]+/team/$"))
    expect(teammate.get_by_role("heading", level=1)).to_have_text("Ada's team")
    expect(teammate.get_by_role("status")).to_contain_text("You joined Ada's team.")
    grace = User.objects.get(email="grace@example.test")
    assert Membership.objects.get(user=grace, team=team).role == Role.MEMBER
    grace.refresh_from_db()
    assert grace.current_team == team

    # goto, not reload: this page is the response to the invitation POST, and reloading
    # it would submit the form again and create a second invitation.
    page.goto(f"{live_server.url}/team/")
    members = page.locator("section", has=page.locator("#members-title"))
    expect(members.locator(".count")).to_have_text("2")
    grace_row = members.get_by_role("row").filter(has_text="grace@example.test")
    expect(grace_row).to_contain_text("Grace")
    expect(grace_row.get_by_label("Role of grace@example.test")).to_have_value("member")
    expect(page.get_by_role("heading", name="Pending invitations")).to_have_count(0)
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    assert invitation.accepted_by == grace
    screenshot(page, "team")


def test_a_key_is_shown_once_works_and_is_revoked_in_place(new_page, live_server, screenshot):
    page = new_page()
    _sign_up(page, live_server, name="Linus", email="linus@example.test")
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    _assert_every_visible_field_is_labelled(page)

    page.get_by_label("Name", exact=True).fill("Website backend")
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_test_id("new-key")
    expect(new_key).to_have_text(re.compile(r"^pd_live_[0-9A-Za-z]{38}$"))
    raw = new_key.inner_text().strip()
    api_key = find_active_key(raw)
    assert api_key is not None
    assert api_key.team.name == "Linus's team"
    screenshot(page, "keys-new-key")

    row = page.locator(f"#key-{api_key.pk}")
    expect(row.locator(".badge")).to_have_text("active")
    # A page reload would drop this marker (and the shown-once key above): the revoke must
    # swap the row in place.
    page.evaluate("window.__noReload = true")
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    row.get_by_role("button", name="Revoke").click()

    expect(row.locator(".badge")).to_have_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    assert page.evaluate("window.__noReload") is True
    expect(new_key).to_be_visible()
    assert dialogs == ["Revoke “Website backend”? Apps using it stop working at once."]
    assert find_active_key(raw) is None
    screenshot(page, "keys-revoked")


def test_the_create_key_button_is_reachable_with_the_keyboard(new_page, live_server):
    page = new_page()
    _sign_up(page, live_server, name="Tab", email="tab@example.test")
    page.goto(f"{live_server.url}/keys/")
    create = page.get_by_role("button", name="Create key")
    for _press in range(40):
        page.keyboard.press("Tab")
        if create.evaluate("el => el === document.activeElement"):
            break
    expect(create).to_be_focused()
    assert create.evaluate("el => el.matches(':focus-visible')"), "no visible focus ring"


def test_switching_team_after_a_form_post_lands_on_the_same_page(new_page, live_server):
    # The switcher used to send next=/keys/new/, a POST-only URL that answers GET with 405;
    # creating a key now redirects to the keys page, which the other team has too.
    page = new_page()
    _sign_up(page, live_server, name="Sam", email="sam@example.test")
    page.goto(f"{live_server.url}/teams/")
    page.get_by_label("Team name", exact=True).fill("Side project")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Side project")

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name", exact=True).fill("Script")
    page.get_by_role("button", name="Create key").click()
    expect(page).to_have_url(re.compile(r"/t/[-\w]+/keys/$"))
    expect(page.get_by_role("link", name="API keys")).to_have_attribute("aria-current", "page")

    page.get_by_label("Current team").select_option(label="Sam's team")
    expect(page.get_by_role("status")).to_contain_text("Switched to Sam's team.")
    team = User.objects.get(email="sam@example.test").current_team
    expect(page).to_have_url(f"{live_server.url}/t/{team.slug}/keys/")
    expect(page.get_by_label("Current team")).to_have_value(
        str(User.objects.get(email="sam@example.test").current_team.pk)
    )


def test_removing_a_member_offers_to_revoke_their_keys(
    new_page, live_server, log_in, screenshot, alice, bob, bob_key
):
    for width, height in ((1366, 900), (390, 844)):
        page = new_page(viewport={"width": width, "height": height})
        log_in(page, alice.user, f"/t/{alice.team.slug}/team/")
        page.get_by_text("Remove…").click()
        box = page.get_by_label("Also revoke the API key they created")
        expect(box).to_be_checked()
        expect(page.get_by_text("bob-script")).to_be_visible()
        screenshot(page, f"team-remove-member-keys-{width}")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove Bob").click()
    expect(page.get_by_text("and 1 API key revoked")).to_be_visible()
    bob_key.api_key.refresh_from_db()
    assert bob_key.api_key.revoked_at is not None


def test_reloading_after_an_invitation_or_a_new_key_creates_nothing_more(
    new_page, live_server, log_in, transactional_db, mailoutbox
):
    from pixdash.accounts.models import ApiKey
    from pixdash.accounts.teams import sign_up as make_user

    user = make_user(email="rita@example.test", password=PASSWORD, name="Rita")
    page = log_in(new_page(), user, "/team/")
    page.get_by_label("E-mail (optional)").fill("grace@example.test")
    page.get_by_role("button", name="Create invitation").click()
    expect(page.locator("#invite-link")).to_contain_text("/invitations/")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rita's team")
    expect(page.locator("#invite-link")).to_have_count(0)
    assert Invitation.objects.count() == 1
    assert len(mailoutbox) == 1

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name", exact=True).fill("Script")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_test_id("new-key")).to_have_text(re.compile(r"^pd_live_"))
    page.reload()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert ApiKey.objects.count() == 1


def test_a_key_is_limited_to_models_picked_from_the_catalog_and_renamed(
    new_page, log_in, transactional_db, screenshot
):
    from pixdash.accounts.models import ApiKey
    from pixdash.accounts.teams import sign_up as make_user

    user = make_user(email="kai@example.test", password=PASSWORD, name="Kai")
    page = log_in(new_page(), user, "/keys/")
    page.get_by_label("Name", exact=True).fill("Thumbnailer")
    page.get_by_role("checkbox", name="Offline preview").check()
    page.get_by_role("checkbox", name="Nano Banana", exact=True).check()
    page.get_by_role("button", name="Create key").click()
    key = ApiKey.objects.get()
    assert sorted(key.allowed_models) == ["gemini-2.5-flash-image", "local-preview"]
    row = page.locator(f"#key-{key.pk}")
    expect(row).to_contain_text("only Nano Banana, Offline preview")
    screenshot(page, "keys-picker")

    row.get_by_text("Rename").click()
    row.get_by_label("New name for “Thumbnailer”").fill("Thumbnails (prod)")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(f"#key-{key.pk}")).to_contain_text("Thumbnails (prod)")
    assert ApiKey.objects.get().name == "Thumbnails (prod)"
