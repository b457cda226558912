"""The bearer-key decorator, exercised through small sync and async views mounted only
for these tests (the real /v1 endpoints use the same decorator)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.http import JsonResponse
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone

from pixdash.accounts.api_auth import api_key_required
from pixdash.accounts.keys import revoke_api_key
from pixdash.accounts.models import ApiKey


@api_key_required
def whoami(request):
    return JsonResponse({"team": request.team.slug, "key": request.api_key.name})


@api_key_required
async def async_whoami(request):
    return JsonResponse({"team": request.team.slug, "key": request.api_key.name})


urlpatterns = [path("v1/whoami", whoami), path("v1/async-whoami", async_whoami)]

pytestmark = pytest.mark.urls(__name__)


def _assert_openai_401(response):
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code", "request_id"}
    assert error["code"] == "invalid_api_key"
    assert error["request_id"] == response["X-Request-Id"]
    assert error["request_id"].startswith("req_")
    assert response["x-should-retry"] == "false"


@pytest.mark.parametrize("url", ["/v1/whoami", "/v1/async-whoami"])
def test_a_valid_key_reaches_the_view_with_its_team(client, alice, alice_key, url):
    response = client.get(url, headers=alice_key.headers)
    assert response.status_code == 200
    assert response.json() == {"team": alice.team.slug, "key": "alice-backend"}


@pytest.mark.parametrize("url", ["/v1/whoami", "/v1/async-whoami"])
def test_a_missing_key_gets_401(client, db, url):
    _assert_openai_401(client.get(url))


def test_a_revoked_key_gets_401(client, alice, alice_key):
    revoke_api_key(api_key=alice_key.api_key, revoked_by=alice.user)
    _assert_openai_401(client.get("/v1/whoami", headers=alice_key.headers))


def test_an_expired_key_gets_401(client, alice_key):
    ApiKey.objects.filter(pk=alice_key.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    _assert_openai_401(client.get("/v1/whoami", headers=alice_key.headers))


def test_a_key_with_one_character_changed_gets_401(client, alice_key):
    raw = alice_key.raw
    tampered = raw[:20] + ("A" if raw[20] != "A" else "B") + raw[21:]
    _assert_openai_401(client.get("/v1/whoami", headers={"Authorization": f"Bearer {tampered}"}))


def test_a_well_formed_key_that_was_never_issued_gets_401(client, alice_key):
    from pixdash.accounts.keys import generate_raw_key

    forged = generate_raw_key()  # valid checksum, unknown prefix
    _assert_openai_401(client.get("/v1/whoami", headers={"Authorization": f"Bearer {forged}"}))


def test_a_key_with_the_right_prefix_but_another_secret_gets_401(client, alice_key):
    from pixdash.accounts.keys import _checksum

    body = alice_key.raw[:16] + "Z" * 24
    forged = body + _checksum(body)
    _assert_openai_401(client.get("/v1/whoami", headers={"Authorization": f"Bearer {forged}"}))


def test_the_key_is_never_accepted_from_the_query_string(client, alice_key):
    _assert_openai_401(client.get(f"/v1/whoami?api_key={alice_key.raw}"))


HOSTILE = [
    "' OR '1'='1",
    "Bearer ' OR '1'='1",
    "Bearer pd_live_' OR '1'='1' --",
    "Bearer " + "A" * 10_000,
    "Bearer pd_live_ÄÖÜ漢字🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂",
    "Bearer\x00pd_live_",
    "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "Bearer ",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_bearer_values_get_401_without_touching_the_database(client, db, value):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/v1/whoami", HTTP_AUTHORIZATION=value)
    _assert_openai_401(response)
    assert len(queries) == 0


def test_last_used_is_recorded_then_throttled(client, alice_key, settings):
    settings.PIXDASH_KEY_LAST_USED_INTERVAL = 60
    assert alice_key.api_key.last_used_at is None
    client.get("/v1/whoami", headers=alice_key.headers)
    first = ApiKey.objects.get(pk=alice_key.api_key.pk).last_used_at
    assert first is not None
    client.get("/v1/whoami", headers=alice_key.headers)
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).last_used_at == first

    ApiKey.objects.filter(pk=alice_key.api_key.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=5)
    )
    client.get("/v1/whoami", headers=alice_key.headers)
    assert ApiKey.objects.get(pk=alice_key.api_key.pk).last_used_at > first


def test_the_raw_key_never_appears_in_logs_or_error_bodies(client, alice_key, caplog):
    caplog.set_level("DEBUG")
    wrong = alice_key.raw[:-1] + ("x" if alice_key.raw[-1] != "x" else "y")
    response = client.get("/v1/whoami", headers={"Authorization": f"Bearer {wrong}"})
    assert wrong not in response.content.decode()
    assert wrong not in caplog.text
    assert alice_key.raw not in caplog.text
