"""The ``.env`` file that manage.py, the servers and Celery read before the settings.

Operators keep their settings in one file instead of exporting them in every shell:
``PIXDASH_ENV_FILE`` names it (default: ``.env`` next to manage.py; empty: read none).
Variables already in the environment win over the file, so systemd's EnvironmentFile,
a container's environment or a one-off ``PIXDASH_DEBUG=1 manage.py ...`` still decide.
"""

import os
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def load_env_file() -> Path | None:
    """Read the env file into os.environ (without overriding); the path read, or None."""
    name = os.environ.get("PIXDASH_ENV_FILE")
    path = DEFAULT_ENV_FILE if name is None else Path(name) if name.strip() else None
    if path is None or not path.is_file():
        return None
    load_dotenv(path, override=False)
    return path
