"""Logging in with an e-mail in any case, and logging out by POST only."""

import pytest
from django.test import Client

from tests.conftest import PASSWORD


def _session_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.mark.parametrize("typed", ["alice@acme.test", "ALICE@ACME.TEST", " Alice@Acme.test "])
def test_login_matches_the_e_mail_in_any_case(alice, typed):
    client = Client()
    response = client.post("/accounts/login/", {"username": typed, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _session_user_id(client) == str(alice.user.pk)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(alice):
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice@acme.test", "password": "no"})
    assert response.status_code == 200
    assert "Please enter a correct email and password" in response.content.decode()
    assert _session_user_id(client) is None


def test_an_unknown_e_mail_gets_the_same_answer_as_a_wrong_password(alice):
    client = Client()
    unknown = client.post("/accounts/login/", {"username": "nobody@acme.test", "password": "no"})
    wrong = client.post("/accounts/login/", {"username": "alice@acme.test", "password": "no"})
    assert unknown.status_code == wrong.status_code == 200
    assert "Please enter a correct email and password" in unknown.content.decode()
    assert _session_user_id(client) is None


def test_an_inactive_user_cannot_log_in(alice):
    alice.user.is_active = False
    alice.user.save()
    client = Client()
    client.post("/accounts/login/", {"username": "alice@acme.test", "password": PASSWORD})
    assert _session_user_id(client) is None


def test_login_follows_a_safe_next_and_ignores_an_unsafe_one(alice):
    fields = {"username": "alice@acme.test", "password": PASSWORD}
    safe = Client().post("/accounts/login/", {**fields, "next": f"{alice.prefix}/keys/"})
    assert safe["Location"] == f"{alice.prefix}/keys/"
    unsafe = Client().post("/accounts/login/", {**fields, "next": "https://evil.example/"})
    assert unsafe["Location"] == "/"


def test_a_signed_in_user_visiting_login_is_sent_home(alice):
    response = alice.client.get("/accounts/login/")
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logout_by_get_is_refused_and_keeps_the_session(alice):
    response = alice.client.get("/accounts/logout/")
    assert response.status_code == 405
    assert _session_user_id(alice.client) == str(alice.user.pk)


def test_logout_by_post_ends_the_session(alice):
    response = alice.client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert _session_user_id(alice.client) is None
    assert alice.client.get(f"{alice.prefix}/team/")["Location"].startswith("/accounts/login/")


def test_logging_out_one_user_leaves_another_signed_in(alice, charlie):
    alice.client.post("/accounts/logout/")
    assert charlie.client.get(f"{charlie.prefix}/team/").status_code == 200


# --- Throttling --------------------------------------------------------------------------


def _attempt(username: str, password: str, address: str = "198.51.100.7"):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def test_repeated_wrong_passwords_lock_the_account_with_a_clear_message(alice, settings):
    limit = settings.AXES_FAILURE_LIMIT
    # However the address is typed, and from whichever network, it is one account.
    spellings = ["alice@acme.test", "ALICE@acme.test", " Alice@Acme.Test "]
    for i in range(limit - 1):
        answer = _attempt(spellings[i % 3], "wrong", address=f"203.0.113.{i}")
        assert answer.status_code == 200
    assert _attempt("alice@acme.test", "wrong", address="203.0.113.99").status_code == 429

    # Now even the right password is refused, from anywhere, until the cool-off ends.
    locked = _attempt("alice@acme.test", PASSWORD, address="203.0.113.200")

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert f"Wait {settings.PIXDASH_LOGIN_COOLOFF_MINUTES} minutes" in locked.content.decode()


def test_one_address_guessing_many_accounts_is_locked_out(alice, bob, charlie, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _attempt(f"nobody{i}@acme.test", "wrong")

    assert _attempt("bob@acme.test", PASSWORD).status_code == 429
    # Another address can still sign in to the same account.
    assert _attempt("bob@acme.test", PASSWORD, address="192.0.2.9").status_code == 302


def test_a_success_resets_the_count(alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _attempt("alice@acme.test", "wrong")
    assert _attempt("alice@acme.test", PASSWORD).status_code == 302

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _attempt("alice@acme.test", "wrong")
    assert _attempt("alice@acme.test", PASSWORD).status_code == 302
