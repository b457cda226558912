"""Pixdash settings: everything comes from environment variables.

The defaults run the whole product on one laptop with no services installed (SQLite,
kombu's file-system broker, media on local disk). Production values that are missing or
malformed stop the process with ImproperlyConfigured instead of running half-configured.
"""

import os
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_decimal(name: str, default: str) -> Decimal:
    raw = os.environ.get(name, default).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be a non-negative number, got {raw!r}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("PIXDASH_DEBUG", False)

DATA_DIR = Path(env_str("PIXDASH_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when PIXDASH_DEBUG is off. "
            "Set PIXDASH_DEBUG=1 for local development."
        )
    SECRET_KEY = "pixdash-insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when PIXDASH_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if urlsplit(_origin).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS entries need a scheme: {_origin!r}")

INSTALLED_APPS = [
    "pixdash.core",
    "pixdash.accounts",
    "billing",
    "generator",
    "webhooks",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
]

MIDDLEWARE = [
    # First: load balancers and Prometheus reach /healthz, /readyz and /metrics by address,
    # before host checks, HTTPS redirects, sessions or anything else can get in the way.
    "pixdash.core.probes.ProbeMiddleware",
    "pixdash.core.middleware.RequestIdMiddleware",
    "pixdash.core.observability.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A database outage raised by a page's view becomes the 503 page, not a 500.
    "pixdash.core.outages.OutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "pixdash.errors.FriendlyNotFoundMiddleware",
    # Last, as django-axes requires: refuses sign-ins while an account or address is locked.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pixdash.urls"
# /v1 is served by its own lean handler (pixdash/core/api_handler.py) with these, all
# async: no sessions, CSRF, messages or auth middleware, which the API never uses.
PIXDASH_API_MIDDLEWARE = [
    "pixdash.core.middleware.RequestIdMiddleware",
    "pixdash.core.observability.RequestContextMiddleware",
]
# API requests in progress per web process; beyond it, 503 with Retry-After.
PIXDASH_MAX_REQUESTS_IN_FLIGHT = env_int("PIXDASH_MAX_REQUESTS_IN_FLIGHT", 2000, minimum=1)
WSGI_APPLICATION = "pixdash.wsgi.application"
ASGI_APPLICATION = "pixdash.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pixdash.accounts.context_processors.current_team",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    if not DEBUG:
        # Production names its database on purpose, even when it is SQLite.
        raise ImproperlyConfigured(
            "DATABASE_URL is required when PIXDASH_DEBUG is off, e.g. "
            "postgres://user@host/pixdash or sqlite:////var/lib/pixdash/pixdash.sqlite3"
        )
    DATABASE_URL = f"sqlite:///{DATA_DIR / 'pixdash.sqlite3'}"
# CONN_MAX_AGE stays 0: persistent connections leak under ASGI's per-request threads.
# PostgreSQL gets Django's psycopg pool instead.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
_engine = DATABASES["default"]["ENGINE"]
if _engine == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the
        # busy timeout instead of failing with "database is locked" on lock upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _engine == "django.db.backends.postgresql" and env_bool("PIXDASH_DB_POOL", True):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("PIXDASH_DB_POOL_MIN", 2),
        "max_size": env_int("PIXDASH_DB_POOL_MAX", 20, minimum=1),
        # With the database down a request waits this long for a connection, then answers
        # 503 (pixdash/core/outages.py).
        "timeout": env_int("PIXDASH_DB_POOL_TIMEOUT", 10, minimum=1),
    }
    # A pooled connection is checked (one empty query) before it is handed out, so
    # connections a PostgreSQL restart killed are replaced instead of failing a request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Threads that run the API's database steps in a web process (see pixdash/core/db.py).
PIXDASH_DB_THREADS = env_int("PIXDASH_DB_THREADS", env_int("PIXDASH_DB_POOL_MAX", 20), minimum=1)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------

CACHE_URL = env_str("CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
elif CACHE_URL:
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// URL, got {CACHE_URL!r}")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes, counts in the database): this many failures for one
# account, or from one address, lock it for PIXDASH_LOGIN_COOLOFF_MINUTES.
PIXDASH_LOGIN_FAILURE_LIMIT = env_int("PIXDASH_LOGIN_FAILURE_LIMIT", 5, minimum=1)
PIXDASH_LOGIN_COOLOFF_MINUTES = env_int("PIXDASH_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = PIXDASH_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=PIXDASH_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "pixdash.accounts.throttling.username_for"
AXES_LOCKOUT_CALLABLE = "pixdash.accounts.throttling.locked_out"
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "root"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PIXDASH_INVITATION_DAYS = env_int("PIXDASH_INVITATION_DAYS", 7, minimum=1)
PIXDASH_SIGNUP_OPEN = env_bool("PIXDASH_SIGNUP_OPEN", True)
# API keys touch last_used_at at most once per this many seconds, so a busy key does not
# turn every API call into a row update.
PIXDASH_KEY_LAST_USED_INTERVAL = env_int("PIXDASH_KEY_LAST_USED_INTERVAL", 60)

# --- Credits and generation -----------------------------------------------------------

PIXDASH_SIGNUP_CREDITS = env_decimal("PIXDASH_SIGNUP_CREDITS", "0")
PIXDASH_DEMO_CREDITS = env_decimal("PIXDASH_DEMO_CREDITS", "200")


# --- Billing: top-ups and redeem codes ------------------------------------------------


def env_credit_packs(name: str, default: str) -> list[tuple[int, Decimal]]:
    """``credits:price`` pairs, e.g. ``500:5.00,2000:18.00``: whole credits, a price with at
    most two decimals, both positive, no pack listed twice. Anything else stops startup."""
    raw = os.environ.get(name, default).strip()
    packs: list[tuple[int, Decimal]] = []
    for item in raw.split(",") if raw else []:
        credits, sep, price = item.strip().partition(":")
        try:
            if not (sep and credits.isdigit() and credits.isascii()):
                raise ValueError
            amount = Decimal(price)
            if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                raise ValueError
        except (ValueError, InvalidOperation):
            raise ImproperlyConfigured(
                f"{name} must look like '500:5.00,2000:18.00' (credits:price), got {item!r}"
            ) from None
        if int(credits) <= 0 or any(c == int(credits) for c, _ in packs):
            raise ImproperlyConfigured(f"{name}: packs need distinct positive credits: {item!r}")
        packs.append((int(credits), amount))
    return packs


PIXDASH_CREDIT_PACKS = env_credit_packs("PIXDASH_CREDIT_PACKS", "500:5.00,2000:18.00")
PIXDASH_CURRENCY = env_str("PIXDASH_CURRENCY", "usd").lower()
if len(PIXDASH_CURRENCY) != 3 or not PIXDASH_CURRENCY.isalpha():
    raise ImproperlyConfigured(f"PIXDASH_CURRENCY must be an ISO code, got {PIXDASH_CURRENCY!r}")
# Card top-ups appear only when both Stripe values are set. The webhook refuses to run
# (503) without its secret; it never verifies against an empty key.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
if STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET and not DEBUG:
    raise ImproperlyConfigured(
        "STRIPE_WEBHOOK_SECRET is required when STRIPE_SECRET_KEY is set: without it paid "
        "Checkout Sessions could never be credited."
    )
# Redeem attempts allowed per user and per team in a 15-minute window.
PIXDASH_REDEEM_ATTEMPTS_PER_USER = env_int("PIXDASH_REDEEM_ATTEMPTS_PER_USER", 10, minimum=1)
PIXDASH_REDEEM_ATTEMPTS_PER_TEAM = env_int("PIXDASH_REDEEM_ATTEMPTS_PER_TEAM", 30, minimum=1)
# Provider keys. A model whose provider has no key is unavailable, unless demo mode routes
# it to the offline renderer (shown as such in the API and the UI).
PIXDASH_GEMINI_API_KEY = env_str("PIXDASH_GEMINI_API_KEY")
PIXDASH_GEMINI_BASE_URL = env_str(
    "PIXDASH_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com"
)
PIXDASH_OPENAI_API_KEY = env_str("PIXDASH_OPENAI_API_KEY")
PIXDASH_OPENAI_BASE_URL = env_str("PIXDASH_OPENAI_BASE_URL", "https://api.openai.com/v1")
# Upstream calls that fail for a passing reason (429, 5xx, timeout) are retried inside the
# adapter with jittered backoff: at most this many attempts within this many seconds,
# which must leave room inside PIXDASH_JOB_TIME_LIMIT.
PIXDASH_PROVIDER_ATTEMPTS = env_int("PIXDASH_PROVIDER_ATTEMPTS", 3, minimum=1)
PIXDASH_PROVIDER_DEADLINE = env_int("PIXDASH_PROVIDER_DEADLINE", 240, minimum=1)
PIXDASH_DEMO_MODE = env_bool(
    "PIXDASH_DEMO_MODE", not (PIXDASH_GEMINI_API_KEY or PIXDASH_OPENAI_API_KEY)
)
PIXDASH_LOCAL_LATENCY_MS = env_int("PIXDASH_LOCAL_LATENCY_MS", 0)
# How long a process keeps the model catalog before reading it again (admin edits reach
# other processes within this; the process that saves sees them at once).
PIXDASH_CATALOG_TTL = env_int("PIXDASH_CATALOG_TTL", 5)
# How many images of one generation are rendered at once (n=10 makes 10 upstream calls).
PIXDASH_IMAGE_CONCURRENCY = env_int("PIXDASH_IMAGE_CONCURRENCY", 4, minimum=1)
# Upstream calls in flight per process (web) or per job loop (worker), and the largest
# upstream answer read, counted as received and again once decompressed.
PIXDASH_UPSTREAM_CONCURRENCY = env_int("PIXDASH_UPSTREAM_CONCURRENCY", 1000, minimum=1)
PIXDASH_UPSTREAM_MAX_BYTES = env_int("PIXDASH_UPSTREAM_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)
# A job's whole run (all images, retries included) must end within this; the sweeper
# settles jobs whose worker vanished once their lease (this plus a margin) has expired.
PIXDASH_JOB_TIME_LIMIT = env_int("PIXDASH_JOB_TIME_LIMIT", 300, minimum=5)
PIXDASH_JOB_MAX_ATTEMPTS = env_int("PIXDASH_JOB_MAX_ATTEMPTS", 3, minimum=1)
# A submitted job no worker picked up within this is failed and its credits released.
PIXDASH_JOB_QUEUE_TIMEOUT = env_int("PIXDASH_JOB_QUEUE_TIMEOUT", 3600, minimum=60)
PIXDASH_MEDIA_URL_TTL = env_int("PIXDASH_MEDIA_URL_TTL", 3600, minimum=60)
# Jobs one team may have queued or running at once, so it cannot starve the others.
PIXDASH_TEAM_MAX_JOBS_IN_FLIGHT = env_int("PIXDASH_TEAM_MAX_JOBS_IN_FLIGHT", 20, minimum=1)
PIXDASH_API_RATE_LIMIT = env_int("PIXDASH_API_RATE_LIMIT", 600, minimum=1)  # per key, minute
PIXDASH_MAX_UPLOAD_BYTES = env_int("PIXDASH_MAX_UPLOAD_BYTES", 64 * 1024 * 1024, minimum=1)
# Webhook deliveries and image URLs fetched for JSON edits never reach private, loopback or
# link-local addresses (nor plain http) unless this is on: tests and private installs.
PIXDASH_OUTBOUND_ALLOW_PRIVATE = env_bool("PIXDASH_OUTBOUND_ALLOW_PRIVATE", False)

# --- Internationalisation -------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("PIXDASH_MEDIA_ROOT") or DATA_DIR / "media")
# Originals, thumbnails and uploaded inputs: local disk by default, an S3-compatible
# bucket when PIXDASH_S3_BUCKET is set. With a bucket, clients get presigned links
# straight to it and the dashboard redirects there; bytes no longer pass through Django.
PIXDASH_S3_BUCKET = env_str("PIXDASH_S3_BUCKET")
PIXDASH_S3_ENDPOINT_URL = env_str("PIXDASH_S3_ENDPOINT_URL")  # empty: AWS itself
PIXDASH_S3_REGION = env_str("PIXDASH_S3_REGION")
if PIXDASH_S3_ENDPOINT_URL and urlsplit(PIXDASH_S3_ENDPOINT_URL).scheme not in {"http", "https"}:
    raise ImproperlyConfigured(
        f"PIXDASH_S3_ENDPOINT_URL must be an http(s) URL, got {PIXDASH_S3_ENDPOINT_URL!r}"
    )


def s3_storage(*, bucket: str, endpoint_url: str = "", region: str = "") -> dict:
    """django-storages' S3 backend for ``bucket``; credentials come from
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, else boto3's usual chain (instance roles)."""
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "querystring_auth": True,
            "querystring_expire": PIXDASH_MEDIA_URL_TTL,
            # Stored names are unique by construction (job id, index, claim token), so
            # skip the HEAD request django-storages would make to avoid overwriting.
            "file_overwrite": True,
            "default_acl": None,
            # Images are small: a transfer thread pool per upload costs more than it saves.
            "transfer_config": TransferConfig(use_threads=False),
            # Given a client config, django-storages ignores its own signature and
            # addressing options, so they are all here.
            "client_config": Config(
                signature_version="s3v4",
                # MinIO, Ceph and most self-hosted endpoints want path-style URLs.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        },
    }


if PIXDASH_S3_BUCKET:
    _default_storage = s3_storage(
        bucket=PIXDASH_S3_BUCKET, endpoint_url=PIXDASH_S3_ENDPOINT_URL, region=PIXDASH_S3_REGION
    )
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- E-mail ---------------------------------------------------------------------------

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Pixdash <pixdash@localhost>")

# --- Celery ---------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        # Otherwise kombu keeps its exchange table in ./control, wherever it was started.
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
# Task state lives in the database (generations), so no result backend is needed.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Submitting must fail fast (503, credits released) when the broker is down, not hang.
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 4, minimum=1)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_SOFT_TIME_LIMIT = PIXDASH_JOB_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = PIXDASH_JOB_TIME_LIMIT + max(5, PIXDASH_JOB_TIME_LIMIT // 10)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis redelivers an unacknowledged task after the visibility timeout; it must exceed
    # the hard time limit or long tasks run twice. A worker killed mid-task is redelivered
    # after this long.
    # Workers look for such abandoned messages every PIXDASH_BROKER_RESTORE_INTERVAL
    # seconds (kombu's default scans only every 100 s).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int(
            "PIXDASH_BROKER_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 60, minimum=10
        ),
        "unacked_restore_interval": env_int("PIXDASH_BROKER_RESTORE_INTERVAL", 10, minimum=1),
        "unacked_restore_throttle": 1,
        # A scan holds a Redis lock that outlives a worker SIGKILLed inside it: kombu's
        # 300 s default then stops every worker from restoring anything for 5 minutes. A
        # scan takes milliseconds; an overlap after 10 s only redelivers a message twice,
        # which the job claim absorbs.
        "unacked_mutex_expire": 10,
    }
# Queued jobs still waiting this many seconds after their task was sent are sent again
# (their message may have died with the broker); a backlog is re-sent at most every
# PIXDASH_DISPATCH_MAX_INTERVAL seconds per job. Beat checks every PIXDASH_DISPATCH_INTERVAL.
PIXDASH_DISPATCH_GRACE = env_int("PIXDASH_DISPATCH_GRACE", 20, minimum=1)
PIXDASH_DISPATCH_MAX_INTERVAL = env_int(
    "PIXDASH_DISPATCH_MAX_INTERVAL", 40, minimum=PIXDASH_DISPATCH_GRACE
)
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-generations": {"task": "generator.tasks.sweep_generations", "schedule": 60.0},
    # Webhook retries past a short countdown, and deliveries whose first send was lost.
    "send-due-webhooks": {"task": "webhooks.tasks.send_due_webhooks", "schedule": 30.0},
    "redispatch-queued-generations": {
        "task": "generator.tasks.redispatch_generations",
        "schedule": float(env_int("PIXDASH_DISPATCH_INTERVAL", 10, minimum=1)),
    },
    "roll-up-usage": {"task": "billing.tasks.roll_up_usage", "schedule": 10.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- Security -------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind TLS (the production default) cookies are secure and HTTP is redirected. A LAN
# install without TLS sets PIXDASH_HTTPS=0 knowingly.
PIXDASH_HTTPS = env_bool("PIXDASH_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = PIXDASH_HTTPS
CSRF_COOKIE_SECURE = PIXDASH_HTTPS
SECURE_SSL_REDIRECT = PIXDASH_HTTPS
# Where the dashboard is reached, for links built outside a request (image links in
# webhook bodies). Defaults to make run's address in debug, else the first ALLOWED_HOSTS.
PIXDASH_PUBLIC_URL = env_str("PIXDASH_PUBLIC_URL")
if not PIXDASH_PUBLIC_URL:
    _host = next((h for h in ALLOWED_HOSTS if h and "*" not in h and h != "."), "localhost")
    _scheme = "https" if PIXDASH_HTTPS else "http"
    PIXDASH_PUBLIC_URL = "http://127.0.0.1:8000" if DEBUG else f"{_scheme}://{_host.lstrip('.')}"
elif urlsplit(PIXDASH_PUBLIC_URL).scheme not in {"http", "https"}:
    raise ImproperlyConfigured(f"PIXDASH_PUBLIC_URL needs a scheme: {PIXDASH_PUBLIC_URL!r}")
SECURE_HSTS_SECONDS = env_int("PIXDASH_HSTS_SECONDS", 31536000 if PIXDASH_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("PIXDASH_HSTS_INCLUDE_SUBDOMAINS", PIXDASH_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("PIXDASH_HSTS_PRELOAD", False)
if env_bool("PIXDASH_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Health and metrics: /readyz gives each dependency this long (s) before calling it down.
PIXDASH_READY_TIMEOUT = env_decimal("PIXDASH_READY_TIMEOUT", "2")
if PIXDASH_READY_TIMEOUT <= 0:
    raise ImproperlyConfigured("PIXDASH_READY_TIMEOUT must be above zero")
# /metrics answers only `Authorization: Bearer <token>`; without a token it is off (404).
PIXDASH_METRICS_TOKEN = env_str("PIXDASH_METRICS_TOKEN")
# Every process of one machine (web, workers, beat) writes its counters under this folder
# and /metrics adds them up (prometheus-client's multiprocess mode). It must be shared by
# the machine's processes and emptied only when all of them are stopped.
PIXDASH_METRICS_DIR = Path(env_str("PIXDASH_METRICS_DIR") or DATA_DIR / "metrics")
PIXDASH_METRICS_DIR.mkdir(parents=True, exist_ok=True)
# prometheus-client reads this when it is first imported, which is after the settings.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PIXDASH_METRICS_DIR)

# --- Retention ------------------------------------------------------------------------

# New teams keep their images this many days (0: forever); each team can change it on
# its team page. Favourites are kept whatever the policy.
PIXDASH_RETENTION_DAYS = env_int("PIXDASH_RETENTION_DAYS", 0)
# A deleted image can be restored for this long; then its files are purged from storage.
PIXDASH_UNDO_HOURS = env_int("PIXDASH_UNDO_HOURS", 24, minimum=1)
# Upstream call records (the staff provider page shows the last hour) are kept this long.
PIXDASH_PROVIDER_CALL_DAYS = env_int("PIXDASH_PROVIDER_CALL_DAYS", 30, minimum=1)
CELERY_BEAT_SCHEDULE["apply-retention"] = {
    "task": "generator.tasks.apply_retention",
    "schedule": float(env_int("PIXDASH_RETENTION_INTERVAL", 3600, minimum=10)),
}

# --- Logging --------------------------------------------------------------------------

# Plain text for people (development), one JSON object per line for log shippers. Every
# line logged while a request or task runs carries its request id, team, API key prefix
# and generation id (pixdash/core/observability.py).
PIXDASH_LOG_FORMAT = env_str("PIXDASH_LOG_FORMAT", "plain").lower()
if PIXDASH_LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(
        f"PIXDASH_LOG_FORMAT must be plain or json, got {PIXDASH_LOG_FORMAT!r}"
    )
PIXDASH_LOG_LEVEL = env_str("PIXDASH_LOG_LEVEL", "INFO").upper()
if PIXDASH_LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"PIXDASH_LOG_LEVEL must be a log level, got {PIXDASH_LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "pixdash.core.observability.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s"},
        "json": {
            "()": "pixdash.core.observability.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": PIXDASH_LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": PIXDASH_LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request at INFO: one line per upstream call, on the hot path,
        # and with the URL. Pixdash logs what matters about upstream calls itself.
        "httpx": {"level": "WARNING"},
    },
}
# Celery logs through the configuration above instead of installing its own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
