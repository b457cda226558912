"""End users (the OpenAI ``user`` field of API calls) in the usage rollup, on the usage page
and in its CSV; and keys that require the field."""

import csv
import io
from decimal import Decimal

import pytest

from billing import rollup
from billing.models import UsageDaily
from generator.models import Generation
from pixdash.accounts.keys import create_api_key
from tests.conftest import Key
from tests.generator.conftest import assert_error, post_generation
from tests.ledger_audit import assert_ledger_invariants


@pytest.fixture(autouse=True)
def audit_ledger(db):
    yield
    assert_ledger_invariants()


@pytest.fixture
def usage_by_end_user(alice, alice_key, run_job):
    key = alice_key.api_key
    run_job(alice, n=2, api_key=key, user=False, end_user="shop-42")  # 4
    run_job(alice, n=1, api_key=key, user=False, end_user="shop-42")  # 2
    run_job(alice, n=1, api_key=key, user=False, end_user="shop-7")  # 2
    run_job(alice, n=1, api_key=key, user=False)  # 2, no user field
    run_job(alice, n=1)  # 2, the browser


def test_the_rollup_keeps_one_bucket_per_end_user(usage_by_end_user):
    rollup.roll_up()
    buckets = {
        row.end_user: (row.generations, row.images, row.credits)
        for row in UsageDaily.objects.filter(api_key__isnull=False)
    }
    assert buckets == {
        "shop-42": (2, 3, Decimal("6")),
        "shop-7": (1, 1, Decimal("2")),
        "": (1, 1, Decimal("2")),
    }


def test_the_usage_page_has_a_table_by_end_user(alice, usage_by_end_user):
    page = alice.client.get(alice.url("billing_usage"))

    by_end_user = {row.label: row.credits for row in page.context["report"].by_end_user}
    assert by_end_user == {"shop-42": Decimal("6"), "shop-7": Decimal("2"), "—": Decimal("4")}
    assert 'data-testid="by-end-user"' in page.content.decode()
    assert "?days=30&amp;metric=credits&amp;end_user=shop-42" in page.content.decode()


def test_the_usage_page_filters_by_end_user(alice, usage_by_end_user):
    page = alice.client.get(alice.url("billing_usage"), {"end_user": "shop-42"})

    report = page.context["report"]
    assert report.total.credits == Decimal("6")
    assert report.total.images == 3
    html = page.content.decode()
    assert 'data-testid="end-user-filtered"' in html
    assert "end_user=shop-42" in html.split("Export CSV")[0].rsplit("href=", 1)[1]


def test_a_blank_filter_shows_everyone(alice, usage_by_end_user):
    page = alice.client.get(alice.url("billing_usage"), {"end_user": "  "})

    assert page.context["report"].total.credits == Decimal("12")


def test_the_csv_has_the_end_user_and_filters_by_it(alice, usage_by_end_user):
    def rows(**params):
        response = alice.client.get(alice.url("billing_usage_csv"), params)
        body = b"".join(response.streaming_content).decode()
        return list(csv.DictReader(io.StringIO(body)))

    every = rows()
    assert {row["end_user"] for row in every} == {"shop-42", "shop-7", ""}
    only = rows(end_user="shop-42")
    assert [(row["end_user"], row["credits"]) for row in only] == [("shop-42", "6.00")]


def test_an_end_user_name_cannot_run_as_a_spreadsheet_formula(alice, alice_key, run_job):
    run_job(alice, api_key=alice_key.api_key, user=False, end_user="=HYPERLINK(1)")

    body = b"".join(alice.client.get(alice.url("billing_usage_csv")).streaming_content).decode()

    assert "'=HYPERLINK(1)" in body


def test_another_team_sees_no_end_users(charlie, usage_by_end_user):
    page = charlie.client.get(charlie.url("billing_usage"), {"end_user": "shop-42"})

    assert page.context["report"].total.credits == 0
    assert page.context["report"].by_end_user == []


def test_the_page_and_the_api_give_the_same_numbers(client, alice, alice_key, usage_by_end_user):
    page = alice.client.get(alice.url("billing_usage"))
    api = client.get("/v1/usage", {"group_by": "user"}, headers=alice_key.headers).json()

    from_page = {row.label: f"{row.credits:.2f}" for row in page.context["report"].by_end_user}
    from_api = {(row["user"] or "—"): row["credits"] for row in api["data"]}
    assert from_api == from_page


# --- Keys that require the user field ------------------------------------------------


@pytest.fixture
def strict_key(alice) -> Key:
    return Key(
        *create_api_key(
            team=alice.team, created_by=alice.user, name="per-user", require_end_user=True
        )
    )


def test_a_key_that_requires_the_user_field_refuses_a_call_without_it(
    client, alice, strict_key, fake_gemini
):
    response = post_generation(client, strict_key, {"model": "nano-banana", "prompt": "a fox"})

    assert_error(response, 400, "invalid_request_error", "user")
    assert not Generation.objects.exists()


def test_a_key_that_requires_the_user_field_takes_a_call_with_it(
    client, alice, strict_key, fake_gemini
):
    body = {"model": "nano-banana", "prompt": "a fox", "user": "shop-42"}

    assert post_generation(client, strict_key, body).status_code == 200
    rollup.roll_up()
    assert UsageDaily.objects.get().end_user == "shop-42"


def test_a_quote_lists_the_missing_user_field(client, alice, strict_key):
    body = {"model": "nano-banana", "prompt": "a fox"}
    quoted = post_generation(client, strict_key, body, path="/v1/images/quote").json()

    assert quoted["allowed"] is False
    assert quoted["reasons"] == ["end_user_required"]


def test_other_keys_do_not_require_it(client, alice, alice_key, fake_gemini):
    body = {"model": "nano-banana", "prompt": "a fox"}

    assert post_generation(client, alice_key, body).status_code == 200
