"""Key scopes: every /v1 endpoint that needs one answers 403 permission_denied naming it
to a key without it, before doing anything; a read-only key reads."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generator.models import Generation
from pixdash.accounts.keys import create_api_key
from tests.conftest import Key
from tests.generator.conftest import assert_error, png_bytes

GENERATION = {"model": "nano-banana", "prompt": "a fox"}

# (method, path, body, content type, the scopes any one of which lets the call through)
ENDPOINTS = [
    ("post", "/v1/images/generations", GENERATION, "json", ("images:generate",)),
    ("post", "/v1/async/images/generations", GENERATION, "json", ("images:generate",)),
    ("post", "/v1/images/quote", GENERATION, "json", ("images:generate",)),
    ("post", "/v1/images/edits", GENERATION, "multipart", ("images:edit",)),
    ("post", "/v1/async/images/edits", GENERATION, "multipart", ("images:edit",)),
    ("get", "/v1/tasks", None, None, ("tasks:read",)),
    ("get", "/v1/tasks/task_01ABC", None, None, ("tasks:read",)),
    ("post", "/v1/tasks/task_01ABC/cancel", None, None, ("images:generate", "images:edit")),
    ("get", "/v1/usage", None, None, ("usage:read",)),
    ("get", "/v1/webhooks/default/secret", None, None, ("images:generate", "images:edit")),
]
ALL = ["images:generate", "images:edit", "tasks:read", "usage:read"]


def key_with(person, scopes: list[str]) -> Key:
    return Key(*create_api_key(team=person.team, created_by=person.user, name="s", scopes=scopes))


def call(client, key: Key, method, path, body, kind):
    if kind == "json":
        return client.post(path, json.dumps(body), "application/json", headers=key.headers)
    if kind == "multipart":
        upload = SimpleUploadedFile("in.png", png_bytes(), "image/png")
        return client.post(path, {**body, "image": upload}, headers=key.headers)
    return getattr(client, method)(path, headers=key.headers)


@pytest.mark.parametrize(("method", "path", "body", "kind", "needs"), ENDPOINTS)
def test_a_key_without_the_scope_gets_a_403_naming_it(
    client, alice, fake_gemini, method, path, body, kind, needs
):
    key = key_with(alice, [scope for scope in ALL if scope not in needs])

    error = assert_error(call(client, key, method, path, body, kind), 403, "permission_denied")

    assert all(f"'{scope}'" in error["message"] for scope in needs)
    assert not Generation.objects.exists()
    assert fake_gemini.calls == []


@pytest.mark.parametrize(("method", "path", "body", "kind", "needs"), ENDPOINTS)
def test_a_key_with_only_that_scope_gets_through(
    client, alice, fake_gemini, method, path, body, kind, needs, monkeypatch
):
    monkeypatch.setattr("generator.tasks.run_generation.apply_async", lambda **_: None)
    key = key_with(alice, [needs[0]])

    response = call(client, key, method, path, body, kind)

    assert response.status_code != 403, response.content


def test_a_read_only_key_lists_tasks_and_reads_usage_but_cannot_spend(client, alice, fake_gemini):
    key = key_with(alice, ["tasks:read", "usage:read"])

    assert client.get("/v1/tasks", headers=key.headers).status_code == 200
    assert client.get("/v1/usage", headers=key.headers).status_code == 200
    refused = client.post(
        "/v1/images/generations", json.dumps(GENERATION), "application/json", headers=key.headers
    )
    assert_error(refused, 403, "permission_denied")


def test_the_model_list_needs_no_scope(client, alice):
    key = key_with(alice, ["usage:read"])

    assert client.get("/v1/models", headers=key.headers).status_code == 200


def test_a_key_made_without_choosing_scopes_may_do_everything(alice_key):
    # Also what the migration gives the keys that existed before scopes.
    assert alice_key.api_key.scopes == ALL
