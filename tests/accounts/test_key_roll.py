"""Rolling a key: a successor with the same settings, and the old key valid for a grace
period, then 401; scopes chosen at creation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from pixdash.accounts.keys import KeyRefused, create_api_key, revoke_api_key, roll_api_key


def key_works(client, raw: str) -> bool:
    return client.get("/v1/models", headers={"Authorization": f"Bearer {raw}"}).status_code == 200


def test_the_successor_keeps_the_old_keys_settings(alice):
    old, _raw = create_api_key(
        team=alice.team,
        created_by=alice.user,
        name="backend",
        allowed_models=["nano-banana"],
        monthly_credit_limit=Decimal("50"),
        scopes=["images:generate", "tasks:read"],
        require_end_user=True,
    )

    new, new_raw = roll_api_key(api_key=old, grace=timedelta(hours=24))

    assert new.pk != old.pk and new_raw.startswith("pd_live_")
    assert (new.name, new.allowed_models, new.monthly_credit_limit) == (
        "backend",
        ["nano-banana"],
        Decimal("50"),
    )
    assert new.scopes == ["images:generate", "tasks:read"]
    assert new.require_end_user is True
    assert new.created_by == alice.user  # spending still counts as alice's
    assert new.rolled_from == old
    assert list(old.successors.all()) == [new]


def test_both_keys_work_during_the_grace_period_then_the_old_one_401s(client, alice):
    old, old_raw = create_api_key(team=alice.team, created_by=alice.user, name="backend")

    _new, new_raw = roll_api_key(api_key=old, grace=timedelta(hours=1))

    assert key_works(client, old_raw) and key_works(client, new_raw)
    assert old.expires_at <= timezone.now() + timedelta(hours=1)
    old.expires_at = timezone.now() - timedelta(seconds=1)  # the grace period ran out
    old.save(update_fields=["expires_at"])
    assert not key_works(client, old_raw)
    assert key_works(client, new_raw)


def test_no_grace_stops_the_old_key_at_once(client, alice):
    old, old_raw = create_api_key(team=alice.team, created_by=alice.user, name="leaked")

    roll_api_key(api_key=old, grace=timedelta(0))

    assert not key_works(client, old_raw)


def test_an_earlier_expiry_is_kept(alice):
    soon = timezone.now() + timedelta(minutes=5)
    old, _ = create_api_key(team=alice.team, created_by=alice.user, name="x", expires_at=soon)

    new, _ = roll_api_key(api_key=old, grace=timedelta(days=7))

    assert old.expires_at == soon
    assert new.expires_at == soon


def test_revoked_and_already_rolled_keys_cannot_be_rolled(alice):
    revoked, _ = create_api_key(team=alice.team, created_by=alice.user, name="gone")
    revoke_api_key(api_key=revoked, revoked_by=alice.user)
    rolled, _ = create_api_key(team=alice.team, created_by=alice.user, name="rolled")
    roll_api_key(api_key=rolled, grace=timedelta(hours=1))

    for key in (revoked, rolled):
        with pytest.raises(KeyRefused):
            roll_api_key(api_key=key, grace=timedelta(hours=1))


@pytest.mark.parametrize("scopes", [[], ["images:delete"], ["tasks:read", "nope"]])
def test_scopes_must_be_known_and_at_least_one(alice, scopes):
    with pytest.raises(KeyRefused):
        create_api_key(team=alice.team, created_by=alice.user, name="x", scopes=scopes)


def test_scopes_are_kept_in_a_canonical_order(alice):
    key, _ = create_api_key(
        team=alice.team, created_by=alice.user, name="x", scopes=["usage:read", "tasks:read"]
    )
    assert key.scopes == ["tasks:read", "usage:read"]
