"""Redeem codes: batches generated once (CSV), stored as digests; redeeming credits the
team once per code and team; failures all read the same; attempts are rate limited per
user and team; a single-use code raced 50× on PostgreSQL succeeds once."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from billing import ledger, topups
from billing.models import EntryKind, LedgerEntry, RedeemBatch, RedeemCode, Redemption
from pixdash.accounts.teams import sign_up
from tests.conftest import STARTING_CREDITS
from tests.ledger_audit import assert_ledger_invariants


@pytest.fixture(autouse=True)
def audit_ledger(db):
    yield
    assert_ledger_invariants()


def batch(**fields) -> tuple[RedeemBatch, list[str]]:
    row = RedeemBatch.objects.create(
        **{"name": "launch", "credits": Decimal("50"), "uses_per_code": 1, "count": 3, **fields}
    )
    return row, topups.generate_codes(row)


def test_a_code_credits_the_team_once_and_shows_the_new_balance(alice):
    _batch, codes = batch()

    response = alice.client.post(
        alice.url("billing_redeem"), {"code": codes[0].lower().replace("-", " ")}, follow=True
    )

    assert response.status_code == 200
    assert "50 credits added" in response.content.decode()
    assert ledger.balance(alice.team) == STARTING_CREDITS + 50
    entry = LedgerEntry.objects.get(kind=EntryKind.REDEEM)
    assert entry.user == alice.user and entry.reference.startswith("redeem:")


def test_codes_are_stored_as_digests_only(alice):
    _batch, codes = batch()
    stored = list(RedeemCode.objects.values_list("digest", "hint"))
    assert all(code not in str(stored) for code in codes)
    assert all(len(digest) == 64 for digest, _ in stored)


def test_a_batch_generates_its_codes_once(db):
    row, _codes = batch()
    with pytest.raises(ValueError, match="already generated"):
        topups.generate_codes(row)
    assert RedeemCode.objects.count() == 3


@pytest.mark.parametrize("case", ["unknown", "used", "expired", "short"])
def test_every_failure_reads_the_same(alice, charlie, case):
    _batch, codes = batch(uses_per_code=2)
    code = codes[0]
    if case == "unknown":
        code = "PIX-AAAA-BBBB-CCCC-DDDD"
    elif case == "used":
        topups.redeem(team=charlie.team, user=charlie.user, code=codes[0])
        other = sign_up(email="dora@x.test", password="pw long enough 1234").current_team
        topups.redeem(team=other, user=other.memberships.get().user, code=codes[0])
    elif case == "expired":
        RedeemBatch.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "short":
        code = "PIX"
    before = ledger.balance(alice.team)

    response = alice.client.post(alice.url("billing_redeem"), {"code": code})

    assert response.status_code == 400
    assert "That code is not valid." in response.content.decode()
    assert ledger.balance(alice.team) == before


def test_a_code_this_team_already_redeemed_says_so(alice, bob, charlie):
    """Only to the team that used it (its ledger shows it anyway): to another team a used
    code reads like any invalid one (above)."""
    _batch, codes = batch(uses_per_code=1)
    topups.redeem(team=alice.team, user=alice.user, code=codes[0])
    before = ledger.balance(alice.team)
    response = bob.client.post(bob.url("billing_redeem"), {"code": codes[0]})
    assert response.status_code == 403  # members do not redeem; their admins do
    response = alice.client.post(alice.url("billing_redeem"), {"code": codes[0]})
    assert response.status_code == 400
    assert "Your team already redeemed this code." in response.content.decode()
    assert ledger.balance(alice.team) == before
    response = charlie.client.post(charlie.url("billing_redeem"), {"code": codes[0]})
    assert "That code is not valid." in response.content.decode()


def test_attempts_are_rate_limited_per_user_and_team(alice, bob, settings):
    settings.PIXDASH_REDEEM_ATTEMPTS_PER_USER = 3
    settings.PIXDASH_REDEEM_ATTEMPTS_PER_TEAM = 4
    _batch, codes = batch()
    for _ in range(3):
        assert (
            alice.client.post(
                alice.url("billing_redeem"), {"code": "PIX-AAAA-AAAA-AAAA-AAAA"}
            ).status_code
            == 400
        )
    # Even a valid code waits out the window once the limit is reached.
    limited = alice.client.post(alice.url("billing_redeem"), {"code": codes[0]})
    assert limited.status_code == 429
    assert "Too many attempts" in limited.content.decode()
    assert not Redemption.objects.exists()


def test_the_team_limit_covers_its_other_managers(alice, settings):
    settings.PIXDASH_REDEEM_ATTEMPTS_PER_TEAM = 2
    User = get_user_model()
    from pixdash.accounts.models import Membership, Role

    admin = User.objects.create_user(email="ada@acme.test", password="x" * 20)
    Membership.objects.create(team=alice.team, user=admin, role=Role.ADMIN)
    other = Client()
    other.force_login(admin)
    for _ in range(2):
        alice.client.post(alice.url("billing_redeem"), {"code": "PIX-AAAA-AAAA-AAAA-AAAA"})
    assert (
        other.post(alice.url("billing_redeem"), {"code": "PIX-AAAA-AAAA-AAAA-AAAA"}).status_code
        == 429
    )


def test_members_cannot_redeem(alice, bob):
    _batch, codes = batch()
    assert bob.client.post(bob.url("billing_redeem"), {"code": codes[0]}).status_code == 403
    assert not Redemption.objects.exists()


def test_a_code_redeemed_by_another_team_is_used_up_for_this_one(alice, charlie):
    _batch, codes = batch()
    charlie.client.post(charlie.url("billing_redeem"), {"code": codes[0]})
    assert alice.client.post(alice.url("billing_redeem"), {"code": codes[0]}).status_code == 400
    assert ledger.balance(charlie.team) == STARTING_CREDITS + 50
    assert ledger.balance(alice.team) == STARTING_CREDITS


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so 50 threads cannot race there",
)
@pytest.mark.django_db(transaction=True)
def test_a_single_use_code_raced_50_times_succeeds_once(settings):
    settings.PIXDASH_REDEEM_ATTEMPTS_PER_USER = 1000
    settings.PIXDASH_REDEEM_ATTEMPTS_PER_TEAM = 1000
    users = [sign_up(email=f"racer{i}@x.test", password="pw long enough 1234") for i in range(50)]
    # Half the racers share one team: the (code, team) row is raced as well as the uses.
    shared = users[0].current_team
    from pixdash.accounts.models import Membership

    for user in users[1:25]:
        Membership.objects.create(team=shared, user=user, role="admin")
        user.current_team = shared
        user.save()
    _batch, codes = batch(count=1)
    barrier = threading.Barrier(len(users))
    outcomes = []

    def attempt(user):
        try:
            barrier.wait()
            topups.redeem(team=user.current_team, user=user, code=codes[0])
            outcomes.append("ok")
        except topups.RedeemFailed as error:
            outcomes.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("ok") == 1
    assert set(outcomes) == {"ok", "That code is not valid."}
    assert Redemption.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.REDEEM).count() == 1
    assert RedeemCode.objects.get().remaining_uses == 0
    assert_ledger_invariants()
