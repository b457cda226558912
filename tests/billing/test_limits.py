"""Per-key monthly limits and per-member monthly caps: set by managers on the usage page,
shown with progress bars, enforced by the pipeline before anything is held (API: 403
permission_denied)."""

import json
from decimal import Decimal

import pytest

from billing import ledger
from billing.models import MemberLimit
from generator import jobs
from pixdash.accounts.models import ApiKey
from tests.generator.conftest import assert_error
from tests.ledger_audit import assert_ledger_invariants

API = "/v1/images/generations"


@pytest.fixture(autouse=True)
def audit_ledger(db):
    yield
    assert_ledger_invariants()


def generate(client, key, n=1):
    return client.post(
        API,
        data=json.dumps({"model": "nano-banana", "prompt": "a fox", "n": n}),
        content_type="application/json",
        headers=key.headers,
    )


def test_a_member_cap_is_enforced_through_the_api(client, alice, bob, bob_key, fake_gemini):
    alice.client.post(alice.url("billing_member_limit", bob.membership.pk), {"limit": "5"})

    first = generate(client, bob_key, n=2)  # 4 of 5
    second = generate(client, bob_key, n=1)  # 6 > 5

    assert first.status_code == 200, first.content
    error = assert_error(second, 403, "permission_denied")
    assert "monthly spending cap of 5.00" in error["message"]
    assert len(fake_gemini.calls) == 2
    assert ledger.balance(alice.team) == Decimal("96.00")


def test_a_member_cap_is_enforced_for_browser_jobs_with_a_readable_message(alice, bob, run_job):
    MemberLimit.objects.create(team=alice.team, user=bob.user, monthly_credit_limit=3)
    run_job(bob, n=1)

    with pytest.raises(jobs.NotPermitted, match="Your monthly spending cap of 3.00 credits"):
        run_job(bob, n=1)
    run_job(alice, n=2)  # alice has no cap


def test_a_key_limit_set_on_the_page_is_enforced(client, alice, alice_key, fake_gemini):
    response = alice.client.post(
        alice.url("billing_key_limit", alice_key.api_key.pk), {"limit": "2"}
    )
    assert response.status_code == 302
    assert generate(client, alice_key).status_code == 200
    assert_error(generate(client, alice_key), 403, "permission_denied")


def test_the_page_shows_progress_bars(alice, bob, run_job, alice_key):
    MemberLimit.objects.create(team=alice.team, user=bob.user, monthly_credit_limit=10)
    ApiKey.objects.filter(pk=alice_key.api_key.pk).update(monthly_credit_limit=4)
    run_job(bob, n=4)  # 8 of 10: near

    html = alice.client.get(alice.url("billing_usage")).content.decode()

    assert 'class="progress progress-near" role="progressbar" aria-label="Bob this month"' in html
    assert 'aria-valuenow="80"' in html
    assert (
        'aria-label="alice-backend this month" aria-valuemin="0" aria-valuemax="100" '
        'aria-valuenow="0"' in html
    )


def test_an_empty_limit_removes_it(alice, bob):
    url = alice.url("billing_member_limit", bob.membership.pk)
    alice.client.post(url, {"limit": "5"})
    alice.client.post(url, {"limit": ""})
    assert not MemberLimit.objects.exists()


def test_a_bad_limit_changes_nothing(alice, alice_key):
    alice.client.post(alice.url("billing_key_limit", alice_key.api_key.pk), {"limit": "-3"})
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).monthly_credit_limit is None


@pytest.mark.parametrize("name", ["billing_key_limit", "billing_member_limit"])
def test_members_cannot_set_limits(alice, bob, bob_key, name):
    pk = bob_key.api_key.pk if name == "billing_key_limit" else bob.membership.pk
    response = bob.client.post(bob.url(name, pk), {"limit": "1000"})
    assert response.status_code == 403
    assert not MemberLimit.objects.exists()
    assert ApiKey.objects.get(pk=bob_key.api_key.pk).monthly_credit_limit is None


def test_members_see_their_own_cap_without_forms(alice, bob):
    MemberLimit.objects.create(team=alice.team, user=bob.user, monthly_credit_limit=10)
    html = bob.client.get(bob.url("billing_usage")).content.decode()
    assert "Bob this month" in html and "Alice this month" not in html
    assert bob.url("billing_member_limit", bob.membership.pk) not in html


@pytest.mark.parametrize("name", ["billing_key_limit", "billing_member_limit"])
def test_another_teams_ids_answer_404(alice, bob, charlie, alice_key, name):
    pk = alice_key.api_key.pk if name == "billing_key_limit" else bob.membership.pk
    assert charlie.client.post(charlie.url(name, pk), {"limit": "1"}).status_code == 404
    assert not MemberLimit.objects.exists()


def test_the_limit_functions_set_and_remove(alice, bob, alice_key):
    from billing import alerts, limits
    from billing.models import BillingSettings

    limits.set_key_limit(api_key=alice_key.api_key, limit=Decimal("12.50"))
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).monthly_credit_limit == Decimal("12.50")
    limits.set_key_limit(api_key=alice_key.api_key, limit=None)
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).monthly_credit_limit is None
    limits.set_member_limit(membership=bob.membership, limit=Decimal("3"))
    assert MemberLimit.objects.get(user=bob.user).monthly_credit_limit == Decimal("3")
    limits.set_member_limit(membership=bob.membership, limit=None)
    assert not MemberLimit.objects.exists()
    # Already below the new threshold: shown now, e-mailed after the next refill and drop.
    alerts.set_low_balance_threshold(team=alice.team, threshold=Decimal("500"))
    settings_row = BillingSettings.objects.get(team=alice.team)
    assert settings_row.low_balance_threshold == Decimal("500") and settings_row.low_balance_alerted
