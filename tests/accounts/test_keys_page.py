"""The API keys page: create (shown once), list, revoke; members see only their keys."""

import re

import pytest
from django.apps import apps
from django.db import connection

from pixdash.accounts.keys import KEY_LENGTH, find_active_key
from pixdash.accounts.models import ApiKey, Scope

KEY_RE = re.compile(r"pd_live_[0-9A-Za-z]{38}")


def _create(person, **fields):
    """Create a key; the POST redirects to the keys page, which shows it once."""
    # The form's scope boxes all start checked; a browser sends them.
    data = {"name": "Website", "scopes": Scope.values, **fields}
    return person.client.post(f"{person.prefix}/keys/new/", data, follow=True)


def test_a_new_key_is_shown_once_and_works(alice):
    response = _create(alice)
    assert response.status_code == 200
    shown = KEY_RE.findall(response.content.decode())
    assert len(set(shown)) == 1
    raw = shown[0]
    assert len(raw) == KEY_LENGTH
    assert find_active_key(raw).team == alice.team
    assert response["Cache-Control"].startswith("max-age=0")

    listing = alice.client.get(f"{alice.prefix}/keys/").content.decode()
    assert raw not in listing
    assert raw[:16] in listing


def test_the_created_key_appears_nowhere_in_the_database_in_clear(alice):
    raw = KEY_RE.search(_create(alice).content.decode()).group(0)
    random_part = raw[len("pd_live_") :]
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names from models
            for row in cursor.fetchall():
                dumped = " ".join(str(value) for value in row)
                assert random_part not in dumped, model._meta.db_table
                assert random_part[8:] not in dumped, model._meta.db_table


def test_key_options_are_stored(alice):
    _create(
        alice,
        expires_on="2999-01-01",
        allowed_models=["gemini-2.5-flash-image", "gpt-image-1.5"],
        monthly_credit_limit="250",
    )
    key = ApiKey.objects.get(team=alice.team)
    assert key.expires_at.year == 2999
    assert key.allowed_models == ["gemini-2.5-flash-image", "gpt-image-1.5"]
    assert str(key.monthly_credit_limit) == "250.00"
    assert key.created_by == alice.user


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"name": ""}, "This field is required"),
        ({"expires_on": "2000-01-01"}, "Pick a date after today"),
        ({"monthly_credit_limit": "-5"}, "greater than or equal to 0.01"),
        ({"monthly_credit_limit": "abc"}, "Enter a number"),
    ],
)
def test_invalid_key_forms_say_what_is_wrong(alice, fields, message):
    response = alice.client.post(f"{alice.prefix}/keys/new/", {"name": "Website", **fields})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_member_sees_only_their_own_keys(alice, bob, alice_key, bob_key):
    page = bob.client.get(f"{bob.prefix}/keys/").content.decode()
    assert bob_key.api_key.prefix in page
    assert alice_key.api_key.prefix not in page


def test_a_manager_sees_every_key_of_the_team(alice, bob, alice_key, bob_key, charlie_key):
    page = alice.client.get(f"{alice.prefix}/keys/").content.decode()
    assert bob_key.api_key.prefix in page
    assert alice_key.api_key.prefix in page
    assert charlie_key.api_key.prefix not in page


def test_a_member_can_create_and_revoke_their_own_key(bob, bob_key):
    assert _create(bob).status_code == 200
    response = bob.client.post(f"{bob.prefix}/keys/{bob_key.api_key.pk}/revoke/")
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=bob_key.api_key.pk).status == "revoked"


def test_a_member_cannot_revoke_a_teammates_key(bob, alice_key):
    assert bob.client.post(f"{bob.prefix}/keys/{alice_key.api_key.pk}/revoke/").status_code == 404
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).status == "active"


def test_a_manager_revokes_a_members_key(alice, bob_key):
    alice.client.post(f"{alice.prefix}/keys/{bob_key.api_key.pk}/revoke/")
    key = ApiKey.objects.get(pk=bob_key.api_key.pk)
    assert key.status == "revoked"
    assert key.revoked_by == alice.user


def test_it_404s_for_another_teams_key(charlie, alice_key):
    assert (
        charlie.client.post(f"{charlie.prefix}/keys/{alice_key.api_key.pk}/revoke/").status_code
        == 404
    )
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).status == "active"


def test_revoking_with_htmx_returns_the_updated_row(alice, alice_key):
    response = alice.client.post(
        f"{alice.prefix}/keys/{alice_key.api_key.pk}/revoke/", headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith(f'<tr id="key-{alice_key.api_key.pk}"')
    assert "revoked" in html
    assert "<html" not in html


def test_revoking_twice_is_harmless(alice, alice_key):
    alice.client.post(f"{alice.prefix}/keys/{alice_key.api_key.pk}/revoke/")
    response = alice.client.post(f"{alice.prefix}/keys/{alice_key.api_key.pk}/revoke/", follow=True)
    assert "already revoked" in response.content.decode()


def test_keys_kept_at_their_creators_removal_stay_the_teams(alice, bob, bob_key):
    # Revoking is the default (tests/accounts/test_team_page.py); here the owner keeps them.
    alice.client.post(
        f"{alice.prefix}/team/members/{bob.membership.pk}/remove/", {"revoke_keys": "0"}
    )
    key = ApiKey.objects.get(pk=bob_key.api_key.pk)
    assert key.team == alice.team
    assert key.created_by == bob.user
    assert find_active_key(bob_key.raw) is not None


def test_anonymous_visitors_are_sent_to_log_in(client, alice):
    response = client.get(f"{alice.prefix}/keys/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_new_key_is_shown_once_after_the_redirect_and_never_again(alice):
    response = _create(alice)
    assert response.redirect_chain == [(f"{alice.prefix}/keys/", 302)]
    raw = KEY_RE.search(response.content.decode()).group(0)
    again = alice.client.get(f"{alice.prefix}/keys/").content.decode()
    assert raw not in again and 'data-testid="new-key"' not in again
    assert ApiKey.objects.count() == 1


def test_keys_are_limited_to_catalog_models_only(alice):
    response = _create(alice, allowed_models=["no-such-model"])
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_key_is_renamed_by_its_team_only(alice, charlie, alice_key):
    url = f"{alice.prefix}/keys/{alice_key.api_key.pk}/rename/"
    alice.client.post(url, {"name": "  Backend (prod) "})
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).name == "Backend (prod)"
    response = alice.client.post(url, {"name": "   "}, follow=True)
    assert "A key needs a name." in response.content.decode()
    other = f"{charlie.prefix}/keys/{alice_key.api_key.pk}/rename/"
    assert charlie.client.post(other, {"name": "mine"}).status_code == 404
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).name == "Backend (prod)"


def test_last_used_reads_in_plain_words(alice, alice_key):
    from django.utils import timezone

    ApiKey.objects.filter(pk=alice_key.api_key.pk).update(last_used_at=timezone.now())
    html = alice.client.get(f"{alice.prefix}/keys/").content.decode()
    assert "just now" in html and "0 minutes" not in html
