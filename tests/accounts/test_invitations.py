"""Invitations: the link is shown once and stored as a digest; it works once, for the
address it was sent to, until it expires or is revoked."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from pixdash.accounts.models import Invitation, Membership, Role, User
from pixdash.accounts.teams import create_invitation

LINK = re.compile(r"http://testserver/invitations/([A-Za-z0-9_-]{20,})/")
STRONG = "a long and unusual passphrase 42"


def _invite(person, email="", role="member"):
    # Created by a POST that redirects; the team page shows the link once.
    response = person.client.post(
        f"{person.prefix}/team/invitations/", {"email": email, "role": role}, follow=True
    )
    assert response.redirect_chain == [(f"{person.prefix}/team/", 302)]
    return response, LINK.search(response.content.decode()).group(1)


def _messages(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def _database_dump() -> str:
    rows = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names from models
            rows.extend(" ".join(str(value) for value in row) for row in cursor.fetchall())
    return "\n".join(rows)


def test_a_new_invitation_link_is_shown_once(alice):
    response, token = _invite(alice)
    html = response.content.decode()
    assert html.count(f"http://testserver/invitations/{token}/") == 1
    assert response["Cache-Control"].startswith("max-age=0")
    assert token not in alice.client.get(f"{alice.prefix}/team/").content.decode()


def test_only_a_digest_of_the_token_is_stored(alice):
    _response, token = _invite(alice, email="dana@example.test")
    invitation = Invitation.objects.get(team=alice.team)
    assert invitation.token_digest == hashlib.sha256(token.encode()).hexdigest()
    dump = _database_dump()
    assert token not in dump
    assert token[:16] not in dump
    assert token[-16:] not in dump


def test_an_e_mailed_invitation_sends_the_link(alice):
    response, token = _invite(alice, email="Dana@Example.test", role="admin")
    assert "We e-mailed it to <strong>dana@example.test</strong>" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@example.test"]
    assert "Acme" in message.subject
    assert f"http://testserver/invitations/{token}/" in message.body
    assert "as admin" in message.body
    assert Invitation.objects.get(team=alice.team).email == "dana@example.test"


def test_a_link_invitation_sends_no_e_mail(alice):
    _invite(alice)
    assert mail.outbox == []


def test_an_invalid_invitation_form_says_what_is_wrong(alice):
    response = alice.client.post(
        f"{alice.prefix}/team/invitations/", {"email": "not-an-address", "role": "x"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address" in html
    assert "Select a valid choice" in html
    assert not Invitation.objects.exists()


def test_pending_invitations_are_listed_for_managers(alice):
    create_invitation(team=alice.team, invited_by=alice.user, email="dana@example.test")
    assert "dana@example.test" in alice.client.get(f"{alice.prefix}/team/").content.decode()


def test_a_new_user_accepts_by_signing_up(alice):
    _response, token = _invite(alice, role="admin")
    url = f"/invitations/{token}/"
    visitor = Client()

    page = visitor.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Join Acme" in html
    assert f'href="/accounts/signup/?next={url}"' in html

    signed_up = visitor.post(
        "/accounts/signup/",
        {"email": "dana@example.test", "password": STRONG, "next": url},
        follow=True,
    )
    assert signed_up.redirect_chain[-1][0] == f"{alice.prefix}/team/"
    assert "You joined Acme" in _messages(signed_up)

    dana = User.objects.get(email="dana@example.test")
    assert Membership.objects.get(team=alice.team, user=dana).role == Role.ADMIN
    assert dana.current_team == alice.team
    invitation = Invitation.objects.get(team=alice.team)
    assert invitation.status == "accepted"
    assert invitation.accepted_by == dana


def test_an_anonymous_post_does_not_accept(alice):
    _response, token = _invite(alice)
    response = Client().post(f"/invitations/{token}/")
    assert response.status_code == 200
    assert Invitation.objects.get(team=alice.team).is_pending


def test_an_existing_user_accepts_and_the_team_becomes_current(alice, charlie):
    _response, token = _invite(alice)
    page = charlie.client.get(f"/invitations/{token}/")
    assert "Accept and join as charlie@globex.test" in page.content.decode()

    response = charlie.client.post(f"/invitations/{token}/")
    assert response.status_code == 302
    assert response["Location"] == f"{alice.prefix}/"
    assert Membership.objects.get(team=alice.team, user=charlie.user).role == Role.MEMBER
    charlie.user.refresh_from_db()
    assert charlie.user.current_team == alice.team
    assert "<h1>Acme</h1>" in charlie.client.get(f"{alice.prefix}/team/").content.decode()
    # Charlie keeps his own team.
    assert Membership.objects.get(pk=charlie.membership.pk).role == Role.OWNER


def test_an_expired_invitation_gets_410(alice, charlie):
    invitation, token = create_invitation(team=alice.team, invited_by=alice.user)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    page = charlie.client.get(f"/invitations/{token}/")
    assert page.status_code == 410
    assert "Invitation expired" in page.content.decode()
    assert charlie.client.post(f"/invitations/{token}/").status_code == 410
    assert not Membership.objects.filter(team=alice.team, user=charlie.user).exists()


def test_invitations_expire_after_the_configured_days(alice, settings):
    settings.PIXDASH_INVITATION_DAYS = 3
    invitation, _token = create_invitation(team=alice.team, invited_by=alice.user)
    lifetime = invitation.expires_at - invitation.created_at
    assert timedelta(days=3) - timedelta(seconds=5) < lifetime <= timedelta(days=3)


def test_a_used_invitation_gets_410(alice, charlie):
    _response, token = _invite(alice)
    charlie.client.post(f"/invitations/{token}/")

    other = User.objects.create_user(email="dana@example.test", password=STRONG)
    client = Client()
    client.force_login(other)
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 410
    assert "Invitation accepted" in response.content.decode()
    assert not Membership.objects.filter(team=alice.team, user=other).exists()


def test_a_revoked_invitation_gets_410(alice, charlie):
    invitation, token = create_invitation(team=alice.team, invited_by=alice.user)
    revoked = alice.client.post(
        f"{alice.prefix}/team/invitations/{invitation.pk}/revoke/", follow=True
    )
    assert "Invitation revoked" in _messages(revoked)

    response = charlie.client.post(f"/invitations/{token}/")
    assert response.status_code == 410
    assert "Invitation revoked" in response.content.decode()
    assert not Membership.objects.filter(team=alice.team, user=charlie.user).exists()


def test_a_revoked_invitation_leaves_the_pending_list(alice):
    invitation, _token = create_invitation(
        team=alice.team, invited_by=alice.user, email="dana@example.test"
    )
    alice.client.post(f"{alice.prefix}/team/invitations/{invitation.pk}/revoke/")
    assert "dana@example.test" not in alice.client.get(f"{alice.prefix}/team/").content.decode()


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 500])
def test_an_unknown_token_gets_404(charlie, token):
    response = charlie.client.post(f"/invitations/{token}/")
    assert response.status_code == 404
    assert "Invitation not found" in response.content.decode()


def test_an_e_mailed_invitation_refuses_another_address(alice, charlie):
    invitation, token = create_invitation(
        team=alice.team, invited_by=alice.user, email="dana@example.test"
    )
    response = charlie.client.post(f"/invitations/{token}/")
    assert response.status_code == 200
    assert (
        "This invitation was sent to dana@example.test. Log in with that address to accept it."
        in _messages(response)
    )
    assert not Membership.objects.filter(team=alice.team, user=charlie.user).exists()
    assert Invitation.objects.get(pk=invitation.pk).is_pending


def test_an_e_mailed_invitation_is_accepted_by_its_address_in_any_case(alice):
    _invitation, token = create_invitation(
        team=alice.team, invited_by=alice.user, email="DANA@example.test"
    )
    dana = User.objects.create_user(email="Dana@Example.TEST", password=STRONG)
    client = Client()
    client.force_login(dana)
    assert client.post(f"/invitations/{token}/").status_code == 302
    assert Membership.objects.filter(team=alice.team, user=dana).exists()


def test_a_member_cannot_accept_an_invitation_to_their_own_team(alice, bob):
    invitation, token = create_invitation(team=alice.team, invited_by=alice.user)
    response = bob.client.post(f"/invitations/{token}/")
    assert "You are already a member of Acme." in _messages(response)
    assert Membership.objects.get(pk=bob.membership.pk).role == Role.MEMBER
    assert Invitation.objects.get(pk=invitation.pk).is_pending


def test_it_404s_for_another_teams_invitation(alice, charlie):
    invitation, _token = create_invitation(team=charlie.team, invited_by=charlie.user)
    response = alice.client.post(f"{alice.prefix}/team/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 404
    assert Invitation.objects.get(pk=invitation.pk).is_pending


def test_another_teams_invitations_are_not_listed(alice, charlie):
    create_invitation(team=charlie.team, invited_by=charlie.user, email="dana@example.test")
    assert "dana@example.test" not in alice.client.get(f"{alice.prefix}/team/").content.decode()


def test_inviting_a_member_again_is_refused_with_a_message(alice, bob):
    response = alice.client.post(
        f"{alice.prefix}/team/invitations/", {"email": "bob@acme.test", "role": "member"}
    )
    assert response.status_code == 400
    assert "bob@acme.test is already a member of Acme" in response.content.decode()
    assert not Invitation.objects.filter(team=alice.team, email="bob@acme.test").exists()


def test_a_new_invitation_to_the_same_address_replaces_the_old_link(alice):
    _first, old_token = _invite(alice, email="dana@example.test")
    _second, new_token = _invite(alice, email="dana@example.test")
    assert Client().get(f"/invitations/{old_token}/").status_code == 410
    assert Client().get(f"/invitations/{new_token}/").status_code == 200
    assert Invitation.objects.filter(team=alice.team, revoked_at__isnull=True).count() == 1


def test_the_link_is_shown_once_and_a_reload_creates_nothing(alice, mailoutbox):
    response, token = _invite(alice, email="dana@example.test")
    again = alice.client.get(f"{alice.prefix}/team/").content.decode()
    assert token not in again and "Invitation link ready" not in again
    assert Invitation.objects.filter(team=alice.team).count() == 1
    assert len(mailoutbox) == 1
