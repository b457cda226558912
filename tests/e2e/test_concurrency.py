"""Many clients, one balance: the guarded hold lets exactly as many through as it covers."""

import asyncio
import collections
from decimal import Decimal

import httpx
import pytest
from django.db import connection

from billing import ledger
from generator.models import Generation, OutputImage
from tests.e2e.conftest import start_web
from tests.ledger_audit import assert_ledger_invariants

pytestmark = [
    pytest.mark.usefixtures("small_renders"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a concurrency test of row locking needs PostgreSQL (SQLite serialises writers)",
    ),
]


@pytest.fixture(scope="module")
def web(django_db_setup, e2e_tmp):
    # One team sends 200 at once: the balance is under test, not the team's cap on jobs in
    # flight (tests/generator/test_admission.py), which would refuse most of them first.
    process = start_web(e2e_tmp, PIXDASH_TEAM_MAX_JOBS_IN_FLIGHT="1000")
    yield process
    process.stop()


async def _fire(url: str, headers: dict, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        start = asyncio.Event()

        async def one(i: int) -> httpx.Response:
            await start.wait()
            return await client.post(
                url, json={"model": "nano-banana", "prompt": f"crowd {i}"}, headers=headers
            )

        tasks = [asyncio.create_task(one(i)) for i in range(count)]
        await asyncio.sleep(0.1)
        start.set()
        return await asyncio.gather(*tasks)


def test_200_concurrent_requests_on_a_balance_for_50_images(api_url, alice, alice_key):
    responses = asyncio.run(_fire(f"{api_url}/images/generations", alice_key.headers, 200))

    statuses = collections.Counter(response.status_code for response in responses)
    assert statuses == {200: 50, 402: 150}, statuses
    refused = [r.json()["error"] for r in responses if r.status_code == 402]
    assert {error["code"] for error in refused} == {"insufficient_credits"}
    assert ledger.balance(alice.team) == Decimal("0.00")
    # Refusals happen before any upstream call: no job, no image for them.
    assert Generation.objects.count() == 50
    assert OutputImage.objects.count() == 50
    assert_ledger_invariants()
