"""The team page and its role matrix: owners and admins manage members and invitations,
members only look and leave, admins never touch owners, and a team keeps an owner."""

import pytest
from django.test import Client

from pixdash.accounts.models import Invitation, Membership, Role, Team, User
from pixdash.accounts.teams import create_invitation
from tests.conftest import PASSWORD


def _join(team: Team, email: str, role: str) -> tuple[Membership, Client]:
    user = User.objects.create_user(email=email, password=PASSWORD)
    membership = Membership.objects.create(team=team, user=user, role=role)
    user.current_team = team
    user.save()
    client = Client()
    client.force_login(user)
    return membership, client


def _acme(path: str) -> str:
    """A page of alice's team, Acme, for tests that act as another of its members."""
    return f"/t/{Team.objects.get(name='Acme').slug}{path}"


def _role(membership: Membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


def _messages(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


@pytest.fixture
def erin(alice):
    """A plain member of Acme for owners and admins to manage."""
    return _join(alice.team, "erin@acme.test", Role.MEMBER)


@pytest.fixture
def manager(request, alice, bob):
    """Acme's owner (alice) or an admin (bob, promoted), for tests both must pass."""
    if request.param == "owner":
        return alice.membership, alice.client
    Membership.objects.filter(pk=bob.membership.pk).update(role=Role.ADMIN)
    return Membership.objects.get(pk=bob.membership.pk), bob.client


both_managers = pytest.mark.parametrize("manager", ["owner", "admin"], indirect=True)


def test_the_team_page_shows_the_current_team_and_its_members(alice, bob, charlie):
    html = alice.client.get(f"{alice.prefix}/team/").content.decode()
    assert "Acme" in html
    assert "bob@acme.test" in html
    assert "charlie@globex.test" not in html
    assert "Globex" not in html


def test_anonymous_visitors_are_sent_to_log_in(client, alice):
    assert client.get(f"{alice.prefix}/team/")["Location"].startswith("/accounts/login/")


@both_managers
def test_managers_rename_the_team(manager, alice):
    _membership, client = manager
    response = client.post(_acme("/team/rename/"), {"name": "  Acme Labs  "})
    assert response.status_code == 302
    assert Team.objects.get(pk=alice.team.pk).name == "Acme Labs"


def test_a_blank_team_name_is_refused(alice):
    response = alice.client.post(f"{alice.prefix}/team/rename/", {"name": "   "})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert Team.objects.get(pk=alice.team.pk).name == "Acme"


@both_managers
def test_managers_change_a_members_role(manager, erin):
    _membership, client = manager
    target, _client = erin
    response = client.post(
        _acme(f"/team/members/{target.pk}/role/"), {"role": "admin"}, follow=True
    )
    assert "erin@acme.test is now admin" in _messages(response)
    assert _role(target) == Role.ADMIN


def test_an_unknown_role_is_refused(alice, erin):
    target, _client = erin
    response = alice.client.post(
        f"{alice.prefix}/team/members/{target.pk}/role/", {"role": "superuser"}, follow=True
    )
    assert "Pick a valid role" in _messages(response)
    assert _role(target) == Role.MEMBER


@both_managers
def test_managers_remove_a_member(manager, erin):
    _membership, client = manager
    target, erin_client = erin
    response = client.post(_acme(f"/team/members/{target.pk}/remove/"), follow=True)
    assert "erin@acme.test was removed from Acme" in _messages(response)
    assert not Membership.objects.filter(pk=target.pk).exists()
    assert User.objects.get(email="erin@acme.test").current_team is None
    assert erin_client.get(_acme("/team/")).status_code == 404
    assert erin_client.get("/")["Location"] == "/teams/"


@both_managers
def test_managers_create_and_revoke_invitations(manager, alice):
    _membership, client = manager
    assert (
        client.post(_acme("/team/invitations/"), {"email": "", "role": "member"}).status_code == 302
    )
    invitation = Invitation.objects.get(team=alice.team)
    assert client.post(_acme(f"/team/invitations/{invitation.pk}/revoke/")).status_code == 302
    assert Invitation.objects.get(pk=invitation.pk).status == "revoked"


def test_the_owner_can_make_someone_owner(alice, erin):
    target, _client = erin
    alice.client.post(f"{alice.prefix}/team/members/{target.pk}/role/", {"role": "owner"})
    assert _role(target) == Role.OWNER


def test_managers_see_the_manage_controls(alice, bob):
    html = alice.client.get(f"{alice.prefix}/team/").content.decode()
    assert f'action="{alice.prefix}/team/rename/"' in html
    assert f'action="{alice.prefix}/team/invitations/"' in html
    assert f'action="{alice.prefix}/team/members/{bob.membership.pk}/role/"' in html
    assert f'action="{alice.prefix}/team/members/{bob.membership.pk}/remove/"' in html


def test_members_see_no_manage_controls(alice, bob):
    html = bob.client.get(f"{bob.prefix}/team/").content.decode()
    assert "alice@acme.test" in html
    assert f'action="{alice.prefix}/team/rename/"' not in html
    assert f'action="{alice.prefix}/team/invitations/"' not in html
    assert "/role/" not in html
    assert "/remove/" not in html
    assert "/revoke/" not in html
    assert f'action="{alice.prefix}/team/leave/"' in html


def test_members_get_403_on_every_manage_post_and_nothing_changes(alice, bob, erin):
    target, _client = erin
    invitation, _token = create_invitation(team=alice.team, invited_by=alice.user)
    posts = [
        (_acme("/team/rename/"), {"name": "Mine now"}),
        (_acme(f"/team/members/{target.pk}/role/"), {"role": "admin"}),
        (_acme(f"/team/members/{bob.membership.pk}/role/"), {"role": "owner"}),
        (_acme(f"/team/members/{alice.membership.pk}/role/"), {"role": "member"}),
        (_acme(f"/team/members/{target.pk}/remove/"), {}),
        (_acme("/team/invitations/"), {"email": "", "role": "admin"}),
        (_acme(f"/team/invitations/{invitation.pk}/revoke/"), {}),
    ]
    for url, data in posts:
        assert bob.client.post(url, data).status_code == 403, url

    assert Team.objects.get(pk=alice.team.pk).name == "Acme"
    assert _role(target) == Role.MEMBER
    assert _role(bob.membership) == Role.MEMBER
    assert _role(alice.membership) == Role.OWNER
    assert Invitation.objects.filter(team=alice.team).count() == 1
    assert Invitation.objects.get(pk=invitation.pk).is_pending


@pytest.mark.parametrize("manager", ["admin"], indirect=True)
def test_an_admin_cannot_change_an_owners_role(manager, alice):
    _membership, client = manager
    response = client.post(
        _acme(f"/team/members/{alice.membership.pk}/role/"), {"role": "member"}, follow=True
    )
    assert "Only an owner can change or remove another owner" in _messages(response)
    assert _role(alice.membership) == Role.OWNER


@pytest.mark.parametrize("manager", ["admin"], indirect=True)
def test_an_admin_cannot_remove_an_owner(manager, alice):
    _membership, client = manager
    response = client.post(_acme(f"/team/members/{alice.membership.pk}/remove/"), follow=True)
    assert "Only an owner can change or remove another owner" in _messages(response)
    assert Membership.objects.filter(pk=alice.membership.pk).exists()


@pytest.mark.parametrize("manager", ["admin"], indirect=True)
def test_an_admin_cannot_make_anyone_owner(manager, erin):
    membership, client = manager
    target, _client = erin
    for pk in (target.pk, membership.pk):
        response = client.post(_acme(f"/team/members/{pk}/role/"), {"role": "owner"}, follow=True)
        assert "Only an owner can make someone an owner" in _messages(response)
    assert _role(target) == Role.MEMBER
    assert _role(membership) == Role.ADMIN


@pytest.mark.parametrize("manager", ["admin"], indirect=True)
def test_an_admin_cannot_invite_an_owner(manager, alice):
    _membership, client = manager
    response = client.post(_acme("/team/invitations/"), {"email": "", "role": "owner"})
    assert response.status_code == 400
    assert not Invitation.objects.filter(team=alice.team).exists()


def test_the_last_owner_cannot_demote_themselves(alice):
    response = alice.client.post(
        f"{alice.prefix}/team/members/{alice.membership.pk}/role/", {"role": "admin"}, follow=True
    )
    assert "A team needs at least one owner" in _messages(response)
    assert _role(alice.membership) == Role.OWNER


def test_the_last_owner_cannot_remove_themselves(alice):
    response = alice.client.post(
        f"{alice.prefix}/team/members/{alice.membership.pk}/remove/", follow=True
    )
    assert "Use 'Leave team' to remove yourself" in _messages(response)
    assert Membership.objects.filter(pk=alice.membership.pk).exists()


def test_the_last_owner_cannot_leave(alice, bob):
    response = alice.client.post(f"{alice.prefix}/team/leave/", follow=True)
    assert response.redirect_chain == [(_acme("/team/"), 302)]
    assert "The last owner cannot leave. Make someone else owner first." in _messages(response)
    assert Membership.objects.filter(pk=alice.membership.pk).exists()


def test_an_owner_can_step_down_once_there_is_another_owner(alice, erin):
    target, _client = erin
    alice.client.post(f"{alice.prefix}/team/members/{target.pk}/role/", {"role": "owner"})
    alice.client.post(
        f"{alice.prefix}/team/members/{alice.membership.pk}/role/", {"role": "member"}
    )
    assert _role(alice.membership) == Role.MEMBER
    assert _role(target) == Role.OWNER


def test_an_owner_can_remove_another_owner(alice, erin):
    target, _client = erin
    Membership.objects.filter(pk=target.pk).update(role=Role.OWNER)
    alice.client.post(f"{alice.prefix}/team/members/{target.pk}/remove/")
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_an_owner_can_leave_once_there_is_another_owner(alice, erin):
    target, _client = erin
    Membership.objects.filter(pk=target.pk).update(role=Role.OWNER)
    response = alice.client.post(f"{alice.prefix}/team/leave/")
    assert response["Location"] == "/teams/"
    assert not Membership.objects.filter(pk=alice.membership.pk).exists()


def test_a_member_can_leave(alice, bob):
    response = bob.client.post(f"{bob.prefix}/team/leave/", follow=True)
    assert response.redirect_chain == [("/teams/", 302)]
    assert "You left Acme" in _messages(response)
    assert not Membership.objects.filter(pk=bob.membership.pk).exists()
    bob.user.refresh_from_db()
    assert bob.user.current_team is None
    assert bob.client.get(f"{bob.prefix}/team/").status_code == 404


def test_leaving_is_post_only(bob):
    assert bob.client.get(f"{bob.prefix}/team/leave/").status_code == 405
    assert Membership.objects.filter(pk=bob.membership.pk).exists()


@pytest.mark.parametrize("action", ["role", "remove"])
def test_it_404s_for_another_teams_membership(alice, charlie, action):
    response = alice.client.post(
        f"{alice.prefix}/team/members/{charlie.membership.pk}/{action}/", {"role": "member"}
    )
    assert response.status_code == 404
    assert _role(charlie.membership) == Role.OWNER


def test_managing_acts_on_the_current_team_only(alice, charlie):
    """Alice owns Globex too, but while Acme is current she cannot reach its members."""
    Membership.objects.create(team=charlie.team, user=alice.user, role=Role.OWNER)
    response = alice.client.post(f"{alice.prefix}/team/members/{charlie.membership.pk}/remove/")
    assert response.status_code == 404
    assert Membership.objects.filter(pk=charlie.membership.pk).exists()


# --- Offboarding: the keys a removed member created ----------------------------------


def _models(client: Client, key) -> int:
    return client.get("/v1/models", headers=key.headers).status_code


def test_the_remove_form_lists_the_members_keys_with_revoke_ticked(alice, bob, bob_key):
    page = alice.client.get(_acme("/team/")).content.decode()

    assert "Also revoke the API key they created" in page
    assert 'name="revoke_keys" value="1" checked' in page
    assert "bob-script" in page
    assert "never used" in page


def test_removing_a_member_revokes_their_keys_by_default(alice, bob, bob_key, alice_key):
    assert _models(Client(), bob_key) == 200

    response = alice.client.post(
        _acme(f"/team/members/{bob.membership.pk}/remove/"),
        {"revoke_keys": ["0", "1"]},  # what the ticked box sends
        follow=True,
    )

    assert "bob@acme.test was removed from Acme and 1 API key revoked" in _messages(response)
    assert _models(Client(), bob_key) == 401
    assert _models(Client(), alice_key) == 200
    bob_key.api_key.refresh_from_db()
    assert bob_key.api_key.revoked_by == alice.user


def test_a_remover_may_keep_the_keys_which_stay_the_teams(alice, bob, bob_key):
    alice.client.post(_acme(f"/team/members/{bob.membership.pk}/remove/"), {"revoke_keys": "0"})

    assert not Membership.objects.filter(pk=bob.membership.pk).exists()
    assert _models(Client(), bob_key) == 200  # kept on purpose: the team's integration
    assert "bob-script" in alice.client.get(_acme("/keys/")).content.decode()


def test_another_teams_member_cannot_be_removed_nor_their_keys_revoked(alice, charlie_key):
    charlie_membership = Membership.objects.get(user__email="charlie@globex.test")

    response = alice.client.post(_acme(f"/team/members/{charlie_membership.pk}/remove/"))

    assert response.status_code == 404
    assert _models(Client(), charlie_key) == 200


def test_a_sole_owner_is_told_why_instead_of_offered_leave(alice, bob):
    html = alice.client.get(f"{alice.prefix}/team/").content.decode()
    assert "make someone else owner before you can leave" in html
    assert f'action="{alice.prefix}/team/leave/"' not in html
    Membership.objects.filter(pk=bob.membership.pk).update(role=Role.OWNER)
    html = alice.client.get(f"{alice.prefix}/team/").content.decode()
    assert f'action="{alice.prefix}/team/leave/"' in html
