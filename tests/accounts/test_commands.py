"""The accounts management commands print what a script needs on the last line."""

import re
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from billing.management.commands.demologin import DEMO_EMAIL
from pixdash.accounts.keys import find_active_key
from pixdash.accounts.models import Membership, Role, Team, User
from tests.conftest import PASSWORD


def _run(*args) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_createteam_creates_a_missing_owner_and_prints_the_slug_last(db):
    stdout, _stderr = _run(
        "createteam", "--owner", "Dana@Example.test", "--name", "Dana Co", "--password", "pw-1234!"
    )
    team = Team.objects.get(slug=_last_line(stdout))
    assert team.name == "Dana Co"
    dana = User.objects.get(email="dana@example.test")
    assert dana.check_password("pw-1234!")
    assert Membership.objects.get(team=team, user=dana).role == Role.OWNER
    assert dana.current_team == team


def test_createteam_without_a_password_lets_the_new_owner_set_one_by_reset(client, db):
    _run("createteam", "--owner", "dana@example.test", "--name", "Dana Co")
    client.post("/accounts/password/reset/", {"email": "dana@example.test"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body)
    form_url = client.get(link.group(1))["Location"]
    new = "a long and unusual passphrase 42"
    client.post(form_url, {"new_password1": new, "new_password2": new})
    assert User.objects.get(email="dana@example.test").check_password(new)


def test_createteam_reuses_an_existing_user_in_any_case(alice):
    stdout, _stderr = _run("createteam", "--owner", "ALICE@acme.test", "--name", "Side")
    team = Team.objects.get(slug=_last_line(stdout))
    assert Membership.objects.get(team=team, user=alice.user).role == Role.OWNER
    assert User.objects.filter(email__iexact="alice@acme.test").count() == 1
    alice.user.refresh_from_db()
    assert alice.user.check_password(PASSWORD)


def test_createteam_refuses_a_password_for_an_existing_user(alice):
    with pytest.raises(CommandError, match="already exists"):
        _run("createteam", "--owner", "alice@acme.test", "--name", "Side", "--password", "new")
    alice.user.refresh_from_db()
    assert alice.user.check_password(PASSWORD)
    assert not Team.objects.filter(name="Side").exists()


def test_createteam_refuses_a_blank_name(db):
    with pytest.raises(CommandError, match="--name"):
        _run("createteam", "--owner", "dana@example.test", "--name", "  ")
    assert not User.objects.exists()


def test_createapikey_prints_a_working_key_alone_on_the_last_line(alice):
    stdout, stderr = _run("createapikey", "--team", alice.team.slug, "--name", "deploy")
    raw = _last_line(stdout)
    assert raw == stdout.strip()
    api_key = find_active_key(raw)
    assert api_key is not None
    assert api_key.team == alice.team
    assert api_key.name == "deploy"
    assert api_key.prefix in stderr
    assert raw not in stderr


def test_createapikey_refuses_an_unknown_slug(alice):
    with pytest.raises(CommandError, match="No team with slug 'nope'"):
        _run("createapikey", "--team", "nope", "--name", "deploy")


def test_createapikey_refuses_a_blank_name(alice):
    with pytest.raises(CommandError, match="--name"):
        _run("createapikey", "--team", alice.team.slug, "--name", " ")


def test_demologin_creates_the_demo_user_once_and_prints_the_login(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first, _stderr = _run("demologin")
    second, _stderr = _run("demologin")

    assert User.objects.filter(email=DEMO_EMAIL).count() == 1
    demo = User.objects.get(email=DEMO_EMAIL)
    assert Membership.objects.get(user=demo).role == Role.OWNER
    assert f"E-mail:   {DEMO_EMAIL}" in first
    password = first.split("Password:")[1].split()[0]
    assert demo.check_password(password)
    assert second == first
    assert (tmp_path / "demo-password.txt").stat().st_mode & 0o777 == 0o600


def test_demologin_does_not_print_a_password_the_user_changed(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    _run("demologin")
    demo = User.objects.get(email=DEMO_EMAIL)
    demo.set_password("changed by the user 1")
    demo.save()
    stdout, _stderr = _run("demologin")
    assert "changed by you" in stdout
    assert (tmp_path / "demo-password.txt").read_text() not in stdout
