"""Sign-up: a new user gets a personal team they own, is logged in and sent on; closed
sign-up still lets invited people in."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from pixdash.accounts.models import Invitation, Membership, Role, User
from pixdash.accounts.teams import create_invitation

STRONG = "a long and unusual passphrase 42"


def _sign_up(client, next_url="", **fields):
    data = {"name": "Dana", "email": "dana@example.test", "password": STRONG, **fields}
    url = "/accounts/signup/" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data)


def _logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def test_sign_up_creates_the_user_and_a_team_they_own(client, db):
    response = _sign_up(client, email=" Dana@Example.TEST ")
    assert response.status_code == 302
    user = User.objects.get(email="dana@example.test")
    assert response["Location"] == f"/t/{user.current_team.slug}/"

    user = User.objects.get()
    assert user.email == "dana@example.test"
    assert user.name == "Dana"
    assert user.check_password(STRONG)
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.team.name == "Dana's team"
    assert user.current_team == membership.team


def test_sign_up_logs_the_new_user_in(client, db):
    _sign_up(client)
    user = User.objects.get(email="dana@example.test")
    assert _logged_in_user_id(client) == str(user.pk)
    assert "Dana&#x27;s team" in client.get(f"/t/{user.current_team.slug}/team/").content.decode()


def test_the_sign_up_page_renders_for_anonymous_visitors(client, db):
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_a_signed_in_user_is_sent_home(alice):
    response = alice.client.get("/accounts/signup/")
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_an_e_mail_in_use_in_another_case_is_refused_readably(client, alice):
    response = _sign_up(client, email="ALICE@Acme.Test")
    assert response.status_code == 400
    assert "An account with this e-mail already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="alice@acme.test").count() == 1
    assert _logged_in_user_id(client) is None


@pytest.mark.parametrize(
    "password, message",
    [
        ("password", "This password is too common"),
        ("Xq9!", "This password is too short"),
        ("83749162093", "This password is entirely numeric"),
        ("dana@example.test", "The password is too similar to the email"),
    ],
)
def test_a_weak_password_is_refused_readably(client, db, password, message):
    response = _sign_up(client, password=password)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.exists()
    assert _logged_in_user_id(client) is None


def test_an_empty_post_shows_the_required_fields(client, db):
    response = client.post("/accounts/signup/", {})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not User.objects.exists()


def test_sign_up_through_an_invitation_prefills_and_joins_the_team(client, alice):
    invitation, token = create_invitation(
        team=alice.team, invited_by=alice.user, email="dana@example.test"
    )
    next_url = f"/invitations/{token}/"

    page = client.get(f"/accounts/signup/?next={next_url}")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="dana@example.test"' in html
    assert "Acme" in html
    assert f'name="next" value="{next_url}"' in html

    response = client.post(
        "/accounts/signup/",
        {"email": "dana@example.test", "password": STRONG, "next": next_url},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{alice.prefix}/team/"

    dana = User.objects.get(email="dana@example.test")
    assert Membership.objects.get(user=dana, team=alice.team).role == Role.MEMBER
    assert dana.current_team == alice.team
    invitation.refresh_from_db()
    assert invitation.accepted_by == dana


def test_sign_up_through_an_e_mailed_invitation_needs_the_invited_address(client, alice):
    _invitation, token = create_invitation(
        team=alice.team, invited_by=alice.user, email="dana@example.test"
    )
    response = _sign_up(client, next_url=f"/invitations/{token}/", email="mallory@example.test")
    assert response.status_code == 400
    assert "This invitation is for dana@example.test" in response.content.decode()
    assert not User.objects.filter(email="mallory@example.test").exists()


def test_closed_sign_up_refuses_strangers(client, db, settings):
    settings.PIXDASH_SIGNUP_OPEN = False
    page = client.get("/accounts/signup/")
    assert page.status_code == 403
    assert "Sign-up is by invitation" in page.content.decode()

    response = _sign_up(client)
    assert response.status_code == 403
    assert not User.objects.exists()


def test_closed_sign_up_lets_the_holder_of_a_pending_invitation_in(client, alice, settings):
    settings.PIXDASH_SIGNUP_OPEN = False
    _invitation, token = create_invitation(team=alice.team, invited_by=alice.user)
    next_url = f"/invitations/{token}/"
    assert client.get(f"/accounts/signup/?next={next_url}").status_code == 200

    response = client.post(
        "/accounts/signup/", {"email": "dana@example.test", "password": STRONG, "next": next_url}
    )
    assert response.status_code == 302
    assert User.objects.filter(email="dana@example.test").exists()

    # The link was used up by that sign-up: it cannot open the instance to anyone else.
    stranger = Client()
    again = stranger.post(
        "/accounts/signup/", {"email": "eve@example.test", "password": STRONG, "next": next_url}
    )
    assert again.status_code == 403
    assert not User.objects.filter(email="eve@example.test").exists()


@pytest.mark.parametrize("spoil", ["revoked_at", "accepted_at", "expires_at"])
def test_closed_sign_up_refuses_an_invitation_that_is_no_longer_pending(alice, settings, spoil):
    settings.PIXDASH_SIGNUP_OPEN = False
    invitation, token = create_invitation(team=alice.team, invited_by=alice.user)
    past = timezone.now() - timedelta(seconds=1)
    Invitation.objects.filter(pk=invitation.pk).update(**{spoil: past})

    client = Client()
    response = _sign_up(client, next_url=f"/invitations/{token}/")
    assert response.status_code == 403
    assert not User.objects.filter(email="dana@example.test").exists()


def test_closed_sign_up_refuses_a_made_up_invitation_token(client, db, settings):
    settings.PIXDASH_SIGNUP_OPEN = False
    response = _sign_up(client, next_url="/invitations/not-a-real-token/")
    assert response.status_code == 403
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "unsafe", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"]
)
def test_an_unsafe_next_is_ignored(client, db, unsafe):
    page = client.get("/accounts/signup/", {"next": unsafe})
    assert "evil.example" not in page.content.decode()

    response = client.post(
        "/accounts/signup/", {"email": "dana@example.test", "password": STRONG, "next": unsafe}
    )
    assert response.status_code == 302
    team = User.objects.get(email="dana@example.test").current_team
    assert response["Location"] == f"/t/{team.slug}/"
