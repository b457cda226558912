"""The admin for accounts: superusers inspect everything; key secrets can be neither read
nor minted there."""

import pytest
from django.test import Client
from django.urls import reverse

from pixdash.accounts.models import ApiKey, Invitation, User
from pixdash.accounts.teams import create_invitation


@pytest.fixture
def admin_client(db) -> Client:
    superuser = User.objects.create_superuser(email="root@pixdash.test", password="x" * 20)
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def objects(alice, bob, alice_key):
    invitation, _token = create_invitation(
        team=alice.team, invited_by=alice.user, email="dana@example.test"
    )
    return {
        "user": bob.user,
        "team": alice.team,
        "membership": bob.membership,
        "invitation": invitation,
        "apikey": alice_key.api_key,
    }


MODELS = ["user", "team", "membership", "invitation", "apikey"]


@pytest.mark.parametrize("model", MODELS)
def test_a_superuser_opens_the_changelist(admin_client, objects, model):
    response = admin_client.get(reverse(f"admin:accounts_{model}_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", MODELS)
def test_a_superuser_searches_the_changelist(admin_client, objects, model):
    response = admin_client.get(reverse(f"admin:accounts_{model}_changelist"), {"q": "acme"})
    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_a_superuser_opens_the_change_page(admin_client, objects, model):
    obj = objects[model]
    response = admin_client.get(reverse(f"admin:accounts_{model}_change", args=[obj.pk]))
    assert response.status_code == 200
    assert response.context["original"] == obj


def test_a_superuser_adds_a_user_with_a_normalised_e_mail(admin_client, alice):
    fields = {"password1": "a long and unusual passphrase 42"}
    fields["password2"] = fields["password1"]
    response = admin_client.post(
        reverse("admin:accounts_user_add"), {"email": "Erin@Acme.TEST", **fields}
    )
    assert response.status_code == 302
    assert User.objects.get(email="erin@acme.test").check_password(fields["password1"])

    duplicate = admin_client.post(
        reverse("admin:accounts_user_add"), {"email": "ALICE@acme.test", **fields}
    )
    assert duplicate.status_code == 200
    assert "already exists" in duplicate.content.decode()
    assert User.objects.filter(email__iexact="alice@acme.test").count() == 1


def test_the_key_digest_is_shown_read_only(admin_client, alice_key):
    key = alice_key.api_key
    html = admin_client.get(reverse("admin:accounts_apikey_change", args=[key.pk])).content
    html = html.decode()
    assert key.digest in html
    assert 'name="digest"' not in html
    assert 'name="prefix"' not in html
    assert alice_key.raw not in html


def test_saving_a_key_in_the_admin_cannot_change_its_digest(admin_client, alice_key):
    key = alice_key.api_key
    response = admin_client.post(
        reverse("admin:accounts_apikey_change", args=[key.pk]),
        {
            "team": key.team_id,
            "name": "renamed in admin",
            "expires_at_0": "",
            "expires_at_1": "",
            "revoked_at_0": "",
            "revoked_at_1": "",
            "revoked_by": "",
            "allowed_models": "[]",
            "monthly_credit_limit": "",
            "digest": "0" * 64,
            "prefix": "pd_live_AAAAAAAA",
        },
    )
    assert response.status_code == 302
    saved = ApiKey.objects.get(pk=key.pk)
    assert saved.name == "renamed in admin"
    assert saved.digest == key.digest
    assert saved.prefix == key.prefix


def test_keys_cannot_be_added_in_the_admin(admin_client, alice_key):
    add_url = reverse("admin:accounts_apikey_add")
    assert admin_client.get(add_url).status_code == 403
    assert admin_client.post(add_url, {"name": "minted", "team": 1}).status_code == 403
    changelist = admin_client.get(reverse("admin:accounts_apikey_changelist"))
    assert add_url not in changelist.content.decode()
    assert ApiKey.objects.count() == 1


def test_the_invitation_digest_is_read_only(admin_client, alice):
    invitation, _token = create_invitation(team=alice.team, invited_by=alice.user)
    url = reverse("admin:accounts_invitation_change", args=[invitation.pk])
    html = admin_client.get(url).content.decode()
    assert invitation.token_digest in html
    assert 'name="token_digest"' not in html
    assert Invitation.objects.get(pk=invitation.pk).token_digest == invitation.token_digest


def test_team_members_cannot_open_the_admin(alice):
    response = alice.client.get(reverse("admin:accounts_apikey_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_api_key_does_not_open_the_admin_or_the_dashboard(client, alice_key):
    admin = client.get(reverse("admin:index"), headers=alice_key.headers)
    assert admin.status_code == 302
    assert admin["Location"].startswith("/admin/login/")
    dashboard = client.get(f"/t/{alice_key.api_key.team.slug}/keys/", headers=alice_key.headers)
    assert dashboard.status_code == 302
    assert dashboard["Location"].startswith("/accounts/login/")
