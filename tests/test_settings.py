"""Settings come from the environment and refuse to start half-configured. Each case
boots Django in a fresh interpreter with a clean environment, as a deployment would."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "SECRET_KEY": "s" * 50,
    "ALLOWED_HOSTS": "pixdash.example",
    "DATABASE_URL": "sqlite:////tmp/pixdash-settings-test.sqlite3",
}


def _boot(tmp_path, code="import django; django.setup()", **env) -> subprocess.CompletedProcess:
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "pixdash.settings",
        "PIXDASH_DATA_DIR": str(tmp_path),
        "PIXDASH_ENV_FILE": "",  # a developer's .env (make run writes one) must not count
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _refused(result, message: str) -> None:
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert message in last_line


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    result = _boot(tmp_path, PIXDASH_DEBUG="0", ALLOWED_HOSTS="pixdash.example")
    _refused(result, "SECRET_KEY is required when PIXDASH_DEBUG is off")


def test_production_without_a_database_url_refuses_to_start(tmp_path):
    result = _boot(tmp_path, PIXDASH_DEBUG="0", SECRET_KEY="s" * 50, ALLOWED_HOSTS="x.example")
    _refused(result, "DATABASE_URL is required when PIXDASH_DEBUG is off")


def test_debug_defaults_to_off_so_a_bare_environment_refuses_to_start(tmp_path):
    _refused(_boot(tmp_path), "SECRET_KEY is required")


def test_production_without_allowed_hosts_refuses_to_start(tmp_path):
    result = _boot(tmp_path, PIXDASH_DEBUG="0", SECRET_KEY="s" * 50)
    _refused(result, "ALLOWED_HOSTS is required")


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_malformed_debug_flag_is_refused(tmp_path, value):
    result = _boot(tmp_path, PIXDASH_DEBUG=value, **PRODUCTION)
    _refused(result, f"PIXDASH_DEBUG must be a boolean (1/0, true/false), got {value!r}")


@pytest.mark.parametrize(
    "value, message",
    [
        ("seven", "PIXDASH_INVITATION_DAYS must be a whole number, got 'seven'"),
        ("1.5", "PIXDASH_INVITATION_DAYS must be a whole number, got '1.5'"),
        ("0", "PIXDASH_INVITATION_DAYS must be at least 1, got 0"),
    ],
)
def test_a_malformed_invitation_lifetime_is_refused(tmp_path, value, message):
    result = _boot(tmp_path, PIXDASH_INVITATION_DAYS=value, **PRODUCTION)
    _refused(result, message)


def test_a_malformed_sign_up_switch_is_refused(tmp_path):
    result = _boot(tmp_path, PIXDASH_SIGNUP_OPEN="sometimes", **PRODUCTION)
    _refused(result, "PIXDASH_SIGNUP_OPEN must be a boolean")


def test_debug_mode_starts_with_development_defaults(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.PIXDASH_INVITATION_DAYS, settings.PIXDASH_SIGNUP_OPEN, "
        "settings.ALLOWED_HOSTS)"
    )
    result = _boot(tmp_path, code, PIXDASH_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True 7 True ['localhost', '127.0.0.1', '[::1]']"


def test_production_starts_with_its_required_values(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.PIXDASH_INVITATION_DAYS, settings.SESSION_COOKIE_SECURE)"
    )
    result = _boot(tmp_path, code, PIXDASH_INVITATION_DAYS="14", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False 14 True"


def test_check_deploy_passes_with_production_settings(tmp_path):
    code = (
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy'])"
    )
    result = _boot(tmp_path, code, **{**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode == 0, result.stderr
    # HSTS preload stays opt-in (PIXDASH_HSTS_PRELOAD): joining the preload list is hard
    # to undo, so it is the one deploy warning accepted.
    warnings = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert [line.split(")")[0] for line in warnings] == ["?: (security.W021"]
