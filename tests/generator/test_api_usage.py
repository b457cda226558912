"""GET /v1/usage: the daily rollup grouped by day, model, key and end user, the numbers
the usage page and its CSV show; a key sees what its creator sees there."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from generator import jobs, tasks
from generator.models import Source
from pixdash.accounts.keys import create_api_key
from tests.conftest import Key
from tests.generator.conftest import assert_error
from tests.ledger_audit import assert_ledger_invariants


@pytest.fixture(autouse=True)
def audit_ledger(db):
    yield
    assert_ledger_invariants()


def run(person, key=None, *, n=1, model="nano-banana", end_user=None, browser=False):
    with mock.patch.object(tasks.run_generation, "apply_async"):
        generation = jobs.submit(
            team=person.team,
            user=person.user if browser else None,
            spec=jobs.GenerationSpec(model=model, prompt="a fox", n=n, end_user=end_user),
            source=Source.UI if browser else Source.API,
            is_async=True,
            api_key=key.api_key if key else None,
        ).generation
    jobs.run(generation_id=generation.pk)


@pytest.fixture
def spent(alice, bob, alice_key, bob_key, fake_gemini):
    run(alice, alice_key, n=2, end_user="shop-42")  # 4
    run(alice, alice_key, model="nano-banana-pro", end_user="shop-7")  # 8
    run(bob, bob_key, n=3, end_user="shop-42")  # 6
    run(alice, browser=True)  # 2


def get_usage(client, key, **params):
    return client.get("/v1/usage", params, headers=key.headers)


def test_grouped_by_everything_it_answers_the_rollups_rows(client, alice_key, bob_key, spent):
    response = get_usage(client, alice_key, group_by="day,model,key,user")

    assert response.status_code == 200, response.content
    body = response.json()
    today = timezone.localdate().isoformat()
    assert body["object"] == "list"
    assert body["group_by"] == ["day", "model", "key", "user"]
    assert body["end"] == today
    rows = {(r["model"], r["key"], r["user"]): (r["images"], r["credits"]) for r in body["data"]}
    alice_prefix, bob_prefix = f"{alice_key.api_key.prefix}…", f"{bob_key.api_key.prefix}…"
    assert rows == {
        ("gemini-2.5-flash-image", alice_prefix, "shop-42"): (2, "4.00"),
        ("gemini-2.5-flash-image", bob_prefix, "shop-42"): (3, "6.00"),
        ("gemini-3-pro-image-preview", alice_prefix, "shop-7"): (1, "8.00"),
        ("gemini-2.5-flash-image", None, None): (1, "2.00"),  # the browser: no key, no user
    }
    assert {r["day"] for r in body["data"]} == {today}
    assert {r["key_name"] for r in body["data"]} == {"alice-backend", "bob-script", None}


def test_by_default_it_sums_per_day_over_30_days(client, alice_key, spent):
    body = get_usage(client, alice_key).json()

    assert body["group_by"] == ["day"]
    assert body["start"] == (timezone.localdate() - timedelta(days=29)).isoformat()
    (today,) = body["data"]
    assert (today["generations"], today["images"], today["credits"]) == (4, 7, "20.00")
    assert today["model"] is today["key"] is today["user"] is None


def test_the_totals_match_the_usage_page_and_the_csv(client, alice, alice_key, spent):
    page = alice.client.get(alice.url("billing_usage")).context["report"]
    api = get_usage(client, alice_key, group_by="model").json()["data"]

    assert {row["model"]: Decimal(row["credits"]) for row in api} == {
        row.label: row.credits for row in page.by_model
    }
    csv_body = b"".join(alice.client.get(alice.url("billing_usage_csv")).streaming_content)
    csv_total = sum(Decimal(line.rsplit(",", 1)[1]) for line in csv_body.decode().split()[1:])
    assert csv_total == sum(Decimal(row["credits"]) for row in api) == page.total.credits


def test_it_filters_by_end_user(client, alice_key, spent):
    body = get_usage(client, alice_key, user="shop-42", group_by="user").json()

    assert [(r["user"], r["images"], r["credits"]) for r in body["data"]] == [
        ("shop-42", 5, "10.00")
    ]


def test_a_period_without_usage_is_an_empty_list(client, alice_key, spent):
    long_ago = (timezone.localdate() - timedelta(days=100)).isoformat()

    body = get_usage(client, alice_key, start=long_ago, end=long_ago, group_by="").json()

    assert body["data"] == []


def test_a_members_key_sees_its_creators_usage_only(client, bob_key, spent):
    body = get_usage(client, bob_key, group_by="key").json()

    assert [(r["key_name"], r["credits"]) for r in body["data"]] == [("bob-script", "6.00")]


def test_another_teams_key_sees_none_of_it(client, charlie_key, spent):
    assert get_usage(client, charlie_key, group_by="key").json()["data"] == []


def test_a_key_made_by_an_operator_command_sees_the_team(client, alice, spent):
    key = Key(*create_api_key(team=alice.team, created_by=None, name="ops"))

    (today,) = get_usage(client, key).json()["data"]

    assert today["credits"] == "20.00"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"start": "2026-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2026-01-02", "end": "2026-01-01"}, "start"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "start"),
        ({"group_by": "day,team"}, "group_by"),
        ({"group_by": "day,day"}, "group_by"),
    ],
)
def test_bad_parameters_are_400s_naming_them(client, alice_key, params, param):
    assert_error(get_usage(client, alice_key, **params), 400, "invalid_request_error", param)
