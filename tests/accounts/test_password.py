"""Changing a password (needs the old one) and resetting a forgotten one by e-mail."""

import re

from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from pixdash.accounts.models import User
from tests.conftest import PASSWORD

NEW_PASSWORD = "another long passphrase 77"
RESET_LINK = re.compile(r"http://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


def _change(client, old):
    return client.post(
        "/accounts/password/change/",
        {"old_password": old, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )


def test_the_change_page_needs_a_login(client, db):
    response = client.get("/accounts/password/change/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_password_change_sets_the_new_password_and_keeps_the_session(alice):
    response = _change(alice.client, old=PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/change/done/"
    alice.user.refresh_from_db()
    assert alice.user.check_password(NEW_PASSWORD)
    assert alice.client.get(f"{alice.prefix}/team/").status_code == 200


def test_a_password_change_needs_the_old_password(alice):
    response = _change(alice.client, old="not my password")
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    alice.user.refresh_from_db()
    assert alice.user.check_password(PASSWORD)


def test_a_password_change_logs_out_other_sessions(alice):
    other_browser = Client()
    other_browser.post("/accounts/login/", {"username": "alice@acme.test", "password": PASSWORD})
    assert other_browser.get(f"{alice.prefix}/team/").status_code == 200
    _change(alice.client, old=PASSWORD)
    assert other_browser.get(f"{alice.prefix}/team/")["Location"].startswith("/accounts/login/")


def test_a_password_change_does_not_touch_a_teammate(alice, bob):
    _change(alice.client, old=PASSWORD)
    bob.user.refresh_from_db()
    assert bob.user.check_password(PASSWORD)


def _request_reset(client, email):
    return client.post("/accounts/password/reset/", {"email": email})


def test_a_reset_e_mail_carries_a_link_that_sets_a_new_password(alice):
    client = Client()
    response = _request_reset(client, "ALICE@acme.test")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@acme.test"]
    assert message.subject == "Reset your Pixdash password"
    link = RESET_LINK.search(message.body).group(1)

    # Django swaps the token for a session marker so it does not leak via Referer.
    form_url = client.get(link)["Location"]
    assert form_url.endswith("/set-password/")
    form_page = client.get(form_url)
    assert form_page.status_code == 200
    assert 'name="new_password1"' in form_page.content.decode()

    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/password/reset/complete/"
    alice.user.refresh_from_db()
    assert alice.user.check_password(NEW_PASSWORD)


def test_a_reset_link_works_once(alice):
    client = Client()
    _request_reset(client, "alice@acme.test")
    link = RESET_LINK.search(mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = Client().get(link)
    assert again.status_code == 200
    assert "This reset link is invalid or has already been used" in again.content.decode()


def test_a_tampered_reset_link_is_refused(alice):
    client = Client()
    _request_reset(client, "alice@acme.test")
    link = RESET_LINK.search(mail.outbox[0].body).group(1)
    tampered = link[:-3] + ("aa/" if not link.endswith("aa/") else "bb/")
    response = client.get(tampered)
    assert response.status_code == 200
    assert "This reset link is invalid" in response.content.decode()
    alice.user.refresh_from_db()
    assert alice.user.check_password(PASSWORD)


def test_a_reset_link_for_one_user_does_not_reset_another(alice, charlie):
    client = Client()
    _request_reset(client, "alice@acme.test")
    link = RESET_LINK.search(mail.outbox[0].body).group(1)
    uidb64 = link.strip("/").split("/")[-2]
    charlie_uid = urlsafe_base64_encode(force_bytes(charlie.user.pk))
    response = client.get(link.replace(uidb64, charlie_uid))
    assert "This reset link is invalid" in response.content.decode()
    charlie.user.refresh_from_db()
    assert charlie.user.check_password(PASSWORD)


def test_an_unknown_e_mail_reveals_nothing(alice):
    known = _request_reset(Client(), "alice@acme.test")
    unknown = _request_reset(Client(), "nobody@acme.test")
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@acme.test"]
    assert not User.objects.filter(email="nobody@acme.test").exists()
