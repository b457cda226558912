"""The billing admin: granting credits and generating redeem codes each need their own
permission; seeing accounts or batches is not enough."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from billing import ledger
from billing.models import CreditAccount, RedeemBatch, RedeemCode
from pixdash.accounts.models import User
from tests.conftest import STARTING_CREDITS


def staff(*codenames: str) -> Client:
    user = User.objects.create_user(email=f"staff-{len(codenames)}@pixdash.test", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="billing", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def grant(client: Client, account: CreditAccount):
    url = reverse("admin:billing_creditaccount_grant", args=[account.pk])
    return client.post(url, {"kind": "grant", "amount": "1000", "reason": "goodwill"})


def test_viewing_accounts_is_not_enough_to_grant_credits(alice):
    viewer = staff("view_creditaccount")
    account = CreditAccount.objects.get(team=alice.team)

    page = viewer.get(reverse("admin:billing_creditaccount_grant", args=[account.pk]))
    posted = grant(viewer, account)

    assert page.status_code == 403
    assert posted.status_code == 403
    assert ledger.balance(alice.team) == STARTING_CREDITS


def test_the_grant_permission_grants(alice):
    granter = staff("view_creditaccount", "grant_credits")
    account = CreditAccount.objects.get(team=alice.team)

    assert grant(granter, account).status_code == 302
    assert ledger.balance(alice.team) == STARTING_CREDITS + Decimal(1000)


@pytest.fixture
def batch(db) -> RedeemBatch:
    return RedeemBatch.objects.create(name="launch", credits=Decimal(50), uses_per_code=1, count=3)


def generate_codes(client: Client, batch: RedeemBatch):
    return client.post(
        reverse("admin:billing_redeembatch_changelist"),
        {"action": "download_codes", "_selected_action": [batch.pk]},
    )


def test_managing_batches_is_not_enough_to_generate_codes(batch):
    manager = staff("view_redeembatch", "change_redeembatch", "add_redeembatch")

    response = generate_codes(manager, batch)

    assert not response.get("Content-Disposition", "").startswith("attachment")
    assert not RedeemCode.objects.exists()
    batch.refresh_from_db()
    assert batch.codes_generated_at is None


def test_the_codes_permission_generates_and_downloads_codes(batch):
    issuer = staff("view_redeembatch", "generate_redeem_codes")

    response = generate_codes(issuer, batch)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert len(response.content.decode().strip().splitlines()) == 1 + 3
    assert RedeemCode.objects.count() == 3
