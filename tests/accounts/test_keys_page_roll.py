"""The API keys page: scopes and the user-field requirement chosen at creation, and
"roll key" (a successor shown once, the old key working for the grace chosen)."""

import re

import pytest

from pixdash.accounts.keys import create_api_key, find_active_key
from pixdash.accounts.models import ApiKey

KEY_RE = re.compile(r"pd_live_[0-9A-Za-z]{38}")


def _create(person, **fields):
    # The creation redirects to the keys page, which shows the new key once.
    return person.client.post(
        person.url("key_create"), {"name": "Dashboard", **fields}, follow=True
    )


def test_scopes_and_the_user_requirement_are_chosen_at_creation(alice):
    response = _create(alice, scopes=["tasks:read", "usage:read"], require_end_user="on")

    assert response.status_code == 200
    key = ApiKey.objects.get(name="Dashboard")
    assert key.scopes == ["tasks:read", "usage:read"]
    assert key.require_end_user is True
    html = alice.client.get(alice.url("keys")).content.decode()
    assert "<code>tasks:read</code> <code>usage:read</code>" in html
    assert "requires <code>user</code>" in html


def test_by_default_a_new_key_may_do_everything(alice):
    form = alice.client.get(alice.url("keys")).context["form"]

    _create(alice, scopes=form.fields["scopes"].initial)

    assert ApiKey.objects.get(name="Dashboard").has_all_scopes


def test_a_key_without_scopes_is_refused_at_the_field(alice):
    response = _create(alice)

    assert response.status_code == 400
    assert response.context["form"].errors["scopes"]
    assert not ApiKey.objects.exists()


def test_rolling_shows_the_successor_once_and_keeps_the_old_key_for_the_grace(alice, alice_key):
    response = alice.client.post(
        alice.url("key_roll", alice_key.api_key.pk), {"grace": 3600}, follow=True
    )

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    (raw,) = set(KEY_RE.findall(response.content.decode()))
    successor = find_active_key(raw)
    assert successor.rolled_from == alice_key.api_key
    assert find_active_key(alice_key.raw) is not None  # still works in its grace period
    html = response.content.decode()
    assert 'data-testid="rolled-note"' in html and "keeps working until" in html
    listing = alice.client.get(alice.url("keys")).content.decode()
    assert raw not in listing
    assert f"rolled to <code>{successor.prefix}…</code>" in listing
    assert f"rolled from <code>{alice_key.api_key.prefix}…</code>" in listing


def test_rolling_with_no_grace_stops_the_old_key_now(alice, alice_key):
    alice.client.post(alice.url("key_roll", alice_key.api_key.pk), {"grace": 0})

    assert find_active_key(alice_key.raw) is None
    assert ApiKey.objects.filter(rolled_from=alice_key.api_key).count() == 1


@pytest.mark.parametrize("grace", ["", "5", "-3600", "abc"])
def test_a_grace_not_offered_is_refused(alice, alice_key, grace):
    response = alice.client.post(alice.url("key_roll", alice_key.api_key.pk), {"grace": grace})

    assert response.status_code == 302
    assert not ApiKey.objects.filter(rolled_from__isnull=False).exists()


def test_a_rolled_key_cannot_be_rolled_again(alice, alice_key):
    alice.client.post(alice.url("key_roll", alice_key.api_key.pk), {"grace": 3600})

    response = alice.client.post(
        alice.url("key_roll", alice_key.api_key.pk), {"grace": 3600}, follow=True
    )

    assert "roll its successor instead" in response.content.decode()
    assert ApiKey.objects.filter(rolled_from=alice_key.api_key).count() == 1


def test_a_member_rolls_their_own_key_but_not_a_teammates(alice, bob, alice_key, bob_key):
    rolled = bob.client.post(bob.url("key_roll", bob_key.api_key.pk), {"grace": 0}, follow=True)
    assert rolled.status_code == 200
    assert (
        bob.client.post(bob.url("key_roll", alice_key.api_key.pk), {"grace": 0}).status_code == 404
    )
    assert find_active_key(alice_key.raw) is not None


def test_revoked_keys_offer_no_roll(alice):
    key, _raw = create_api_key(team=alice.team, created_by=alice.user, name="old")
    key.revoked_at = key.created_at
    key.save()

    html = alice.client.get(alice.url("keys")).content.decode()

    assert alice.url("key_roll", key.pk) not in html
