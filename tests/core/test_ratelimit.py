"""The one rate limiter: atomic under concurrency on Redis, per key with the key's own
limit, and open (logged, counted) when Redis is down. Each Redis here is a redis-server
the test starts and kills itself."""

import logging
import threading

import httpx
import pytest

from pixdash.accounts.keys import create_api_key
from pixdash.core import metrics, ratelimit
from tests.e2e.conftest import start_web

LIMIT = 20


@pytest.fixture
def redis_limiter(own_redis, settings):
    settings.CACHE_URL = own_redis.url(5)
    ratelimit.reset()
    yield own_redis
    ratelimit.reset()


def _all_at_once(count: int, call) -> list:
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_n_plus_50_simultaneous_hits_let_at_most_n_through_on_redis(redis_limiter):
    decisions = _all_at_once(
        LIMIT + 50, lambda: ratelimit.hit("test", "one-key", limit=LIMIT, seconds=60)
    )

    assert sum(d.allowed for d in decisions) == LIMIT
    refused = [d for d in decisions if not d.allowed]
    assert len(refused) == 50
    assert all(1 <= d.retry_after <= 60 for d in refused)
    # Another identity has its own window.
    assert ratelimit.hit("test", "other-key", limit=LIMIT, seconds=60).allowed


def test_a_redis_that_is_down_lets_requests_through_logged_and_counted(redis_limiter, caplog):
    redis_limiter.kill()
    before = metrics.RATE_LIMITER_FAILURES._value.get()

    with caplog.at_level(logging.WARNING, logger="pixdash.core.ratelimit"):
        decisions = [ratelimit.hit("test", "k", limit=1) for _ in range(5)]

    assert all(d.allowed for d in decisions)
    assert "rate limiter store unreachable" in caplog.text
    # Counted once, then Redis is left alone for a few seconds instead of per request.
    assert metrics.RATE_LIMITER_FAILURES._value.get() == before + 1


@pytest.fixture
def web_on_own_redis(own_redis, tmp_path, django_db_setup):
    process = start_web(tmp_path, CACHE_URL=own_redis.url(5))
    yield process
    process.stop()


def test_the_api_holds_a_keys_own_limit_under_concurrency_and_stays_up_without_redis(
    transactional_db,
    alice,
    own_redis,
    web_on_own_redis,
):
    api_key, raw = create_api_key(
        team=alice.team, created_by=alice.user, name="burst", rate_limit_per_minute=LIMIT
    )
    url = web_on_own_redis.extra["url"] + "/v1/models"
    headers = {"Authorization": f"Bearer {raw}"}

    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=LIMIT + 50)) as client:
        answers = _all_at_once(LIMIT + 50, lambda: client.get(url, headers=headers))
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(200) == LIMIT
        assert statuses.count(429) == 50
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limited"
        assert f"{LIMIT} requests per minute" in refused.json()["error"]["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60

        own_redis.kill()
        assert [client.get(url, headers=headers).status_code for _ in range(3)] == [200] * 3
