"""The .env file: manage.py (and the servers) read it, so the README's commands work as
written; the environment still wins over the file."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def manage(*args: str, env_file: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIXDASH_", "DJANGO_", "DATABASE_URL", "CELERY_", "CACHE_URL"))
        and k not in {"SECRET_KEY", "ALLOWED_HOSTS"}
    }
    clean.update(PIXDASH_ENV_FILE=str(env_file), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readmes_management_commands_work_with_only_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"# development\nPIXDASH_DEBUG=1\nPIXDASH_DATA_DIR={tmp_path}/var\n")

    assert manage("migrate", "--noinput", "-v0", env_file=env_file).returncode == 0
    team = manage("createteam", "--owner", "ops@example.com", "--name", "Ops", env_file=env_file)
    assert team.returncode == 0, team.stderr
    slug = team.stdout.strip().splitlines()[-1]
    key = manage("createapikey", "--team", slug, "--name", "ci", env_file=env_file)
    assert key.returncode == 0, key.stderr
    assert key.stdout.strip().splitlines()[-1].startswith("pd_live_")


def test_without_it_production_settings_refuse_to_start(tmp_path):
    result = manage("check", env_file=tmp_path / "missing.env")

    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_the_environment_wins_over_the_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PIXDASH_DEBUG=1\nPIXDASH_LOG_FORMAT=json\n")

    result = manage("check", env_file=env_file, PIXDASH_LOG_FORMAT="yaml")

    assert result.returncode != 0
    assert "PIXDASH_LOG_FORMAT must be plain or json, got 'yaml'" in result.stderr
