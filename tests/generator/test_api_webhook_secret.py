"""GET /v1/webhooks/default/secret: the team's secret for callback_url deliveries."""

from tests.generator.conftest import assert_error


def secret(client, key):
    return client.get("/v1/webhooks/default/secret", headers=key.headers)


def test_it_answers_the_teams_default_secret_the_same_each_time(client, alice_key, bob_key):
    first = secret(client, alice_key)

    assert first.status_code == 200
    assert set(first.json()) == {"key"}
    assert first.json()["key"].startswith("whsec_")
    assert secret(client, alice_key).json() == first.json()
    assert secret(client, bob_key).json() == first.json()  # the team's, not the key's


def test_another_team_has_its_own(client, alice_key, charlie_key):
    assert secret(client, charlie_key).json() != secret(client, alice_key).json()


def test_it_needs_a_key(client, db):
    assert_error(client.get("/v1/webhooks/default/secret"), 401, "invalid_api_key")


def test_posting_is_a_405(client, alice_key):
    response = client.post("/v1/webhooks/default/secret", headers=alice_key.headers)
    assert_error(response, 405, "method_not_allowed")
