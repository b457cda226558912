"""The billing page: balance, holds, forecast, the ledger with filters and keyset pages,
the low-balance warning (one e-mail per crossing), the role matrix and other teams."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from billing import ledger
from billing.models import BillingSettings, LedgerEntry
from tests.ledger_audit import assert_ledger_invariants


@pytest.fixture(autouse=True)
def audit_ledger(db):
    yield
    assert_ledger_invariants()


def test_it_shows_balance_holds_and_ledger(alice):
    ledger.hold(
        team=alice.team,
        amount=Decimal("6"),
        reference="g1",
        model="nano-banana",
        images=3,
        user=alice.user,
    )

    page = alice.client.get(alice.url("billing"))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="balance">94<' in html
    assert 'data-testid="on-hold">6<' in html
    assert "test world" in html
    assert alice.url("billing_receipt", "g1") in html
    assert "Running: 6 held until it finishes" in html


def test_it_forecasts_run_out_at_the_last_7_days_rate(alice, run_job):
    for _ in range(7):
        run_job(alice, n=1, model="nano-banana-pro")  # 8 credits each: 56 in 7 days

    page = alice.client.get(alice.url("billing")).content.decode()

    # 44 credits left at 8/day
    assert "credits last ~5 days" in page


def test_members_see_only_their_own_entries_and_no_top_up(alice, bob):
    ledger.hold(team=alice.team, amount=Decimal("2"), reference="alice-job", user=alice.user)
    ledger.hold(team=alice.team, amount=Decimal("2"), reference="bob-job", user=bob.user)

    page = bob.client.get(bob.url("billing")).content.decode()

    assert "bob-job" in page and "alice-job" not in page
    assert "test world" not in page
    assert alice.url("billing_redeem") not in page
    assert alice.url("billing_threshold") not in page


def test_the_other_team_sees_its_own_balance_only(alice, charlie):
    ledger.hold(team=alice.team, amount=Decimal("2"), reference="acme-job", user=alice.user)

    page = charlie.client.get(charlie.url("billing")).content.decode()

    assert "acme-job" not in page
    assert 'data-testid="balance">100<' in page


def test_filters_narrow_the_ledger(alice, bob, alice_key):
    ledger.hold(
        team=alice.team,
        amount=Decimal("2"),
        reference="by-key",
        model="nano-banana",
        api_key=alice_key.api_key,
    )
    ledger.hold(
        team=alice.team,
        amount=Decimal("8"),
        reference="by-bob",
        model="nano-banana-pro",
        user=bob.user,
    )

    def shown(**query):
        return alice.client.get(alice.url("billing"), query).content.decode()

    assert "by-bob" not in shown(key=alice_key.api_key.pk)
    assert "by-key" in shown(key=alice_key.api_key.pk)
    assert "by-key" not in shown(member=bob.user.pk)
    assert "by-bob" in shown(model="nano-banana-pro")
    assert "by-bob" not in shown(kind="grant") and "test world" in shown(kind="grant")
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "by-bob" not in shown(start=tomorrow)
    # A key id of another team is not a choice: the filter is ignored, not an error.
    assert alice.client.get(alice.url("billing"), {"key": "999999"}).status_code == 200


def test_keyset_pages_walk_every_entry_once(alice):
    for i in range(120):
        ledger.hold(team=alice.team, amount=Decimal("0.5"), reference=f"job-{i:03d}")
    seen, query = [], {}
    for _ in range(5):
        page = alice.client.get(alice.url("billing"), query)
        entries = page.context["entries"]
        seen += [e.pk for e in entries]
        if not page.context["next_cursor"]:
            break
        query = {"after": page.context["next_cursor"]}
    everything = list(
        LedgerEntry.objects.filter(account__team=alice.team).values_list("pk", flat=True)
    )
    assert sorted(seen) == sorted(everything)
    assert len(seen) == len(set(seen)) == 121
    # Junk cursors fall back to the first page.
    assert alice.client.get(alice.url("billing"), {"after": "x.y"}).status_code == 200


def test_the_low_balance_email_goes_once_per_crossing_to_owners_and_admins(
    alice, bob, django_capture_on_commit_callbacks
):
    response = alice.client.post(alice.url("billing_threshold"), {"threshold": "50"})
    assert response.status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        ledger.hold(team=alice.team, amount=Decimal("40"), reference="a")  # 60: above
        ledger.hold(team=alice.team, amount=Decimal("20"), reference="b")  # 40: crosses
        ledger.hold(team=alice.team, amount=Decimal("5"), reference="c")  # 35: still below
        ledger.settle(reference="c", charged=Decimal("0"), images=0)  # a release: no re-arm
        ledger.hold(team=alice.team, amount=Decimal("5"), reference="d")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@acme.test"]  # bob is a member: no billing mail
    assert "below the warning threshold of 50.00" in mail.outbox[0].body

    with django_capture_on_commit_callbacks(execute=True):
        ledger.credit(team=alice.team, amount=Decimal("100"), reason="top-up")  # re-arms
        ledger.hold(team=alice.team, amount=Decimal("90"), reference="e")  # crosses again
    assert len(mail.outbox) == 2


def test_setting_a_threshold_is_for_managers(alice, bob, charlie):
    assert bob.client.post(bob.url("billing_threshold"), {"threshold": "5"}).status_code == 403
    assert not BillingSettings.objects.filter(team=alice.team, low_balance_threshold=5).exists()
    assert alice.client.post(alice.url("billing_threshold"), {"threshold": "-1"}).status_code == 400
    charlie.client.post(charlie.url("billing_threshold"), {"threshold": "5"})
    assert not BillingSettings.objects.filter(team=alice.team, low_balance_threshold=5).exists()


def test_ledger_csv_is_streamed_with_the_entries(alice, bob):
    ledger.hold(
        team=alice.team,
        amount=Decimal("2"),
        reference="=cmd()",
        model="nano-banana",
        images=1,
        user=bob.user,
    )

    response = alice.client.get(alice.url("billing_ledger_csv"))

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("created_at,kind,amount,reference")
    assert any(",hold,-2.00,'=cmd(),nano-banana,1,,bob@acme.test," in line for line in lines)
    assert any(",grant,100.00,,,0,,,,test world" in line for line in lines)


def test_ledger_csv_for_a_member_has_only_their_rows(alice, bob):
    ledger.hold(team=alice.team, amount=Decimal("2"), reference="alice-job", user=alice.user)
    body = b"".join(bob.client.get(bob.url("billing_ledger_csv")).streaming_content).decode()
    assert "alice-job" not in body and "test world" not in body


def test_it_needs_a_login(client, alice):
    assert client.get(alice.url("billing")).status_code == 302


def test_the_statement_is_one_line_per_generation_and_raw_entries_on_demand(alice, run_job):
    job = run_job(alice, n=2, model="nano-banana")
    html = alice.client.get(alice.url("billing")).content.decode()
    rows = html.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 2  # the generation and the starting credits
    assert "Nano Banana" in rows and "−4" in rows and "badge-kind-release" not in rows
    assert alice.url("billing_receipt", job.public_id) in rows
    raw = alice.client.get(alice.url("billing"), {"kind": "release"}).content.decode()
    assert raw.split("<tbody>")[1].split("</tbody>")[0].count("<tr>") == 1


def test_people_are_not_shown_setting_names(alice, settings):
    settings.STRIPE_SECRET_KEY = ""
    html = alice.client.get(alice.url("billing")).content.decode()
    assert "Card payments are not available here" in html
    assert "STRIPE_SECRET_KEY" not in html
