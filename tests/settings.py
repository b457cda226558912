"""Test settings: the production settings module with test-only conveniences.

The environment decides the database and broker exactly as in production, so the same
suite runs on the embedded defaults and on PostgreSQL/Redis.
"""

import os
import tempfile

# Tests and the processes they start never read a developer's .env (see pixdash/envfile.py).
os.environ["PIXDASH_ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)
os.environ.setdefault("PIXDASH_DEBUG", "0")
os.environ.setdefault("PIXDASH_HTTPS", "0")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
os.environ.setdefault("PIXDASH_DATA_DIR", tempfile.mkdtemp(prefix="pixdash-tests-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{os.environ['PIXDASH_DATA_DIR']}/pixdash.sqlite3")

from pixdash.settings import *  # noqa: E402,F403

# Hashing passwords with PBKDF2 costs ~0.2 s per user; tests create hundreds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: end-to-end tests run the web server and Celery worker as
    # separate processes against the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}  # noqa: F405

# Serve static files from the source folders: tests run without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
