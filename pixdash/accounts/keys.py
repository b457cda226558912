"""API key format, creation and verification.

A key reads ``pd_live_`` + 32 random base62 characters + a 6-character base62 CRC32 of
what precedes it. The checksum lets us reject mistyped or forged strings without touching
the database; the first 16 characters are stored as a unique lookup prefix, and the whole
key only as its SHA-256 digest, compared in constant time. Nothing else about a key is
secret, so the prefix may be shown in lists and logs.
"""

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from pixdash.accounts.models import ApiKey, Scope, Team, User, all_scopes
from pixdash.core import rows

KEY_PREFIX = "pd_live_"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_LENGTH = 32
_CHECKSUM_LENGTH = 6
_LOOKUP_LENGTH = len(KEY_PREFIX) + 8
KEY_LENGTH = len(KEY_PREFIX) + _RANDOM_LENGTH + _CHECKSUM_LENGTH
_KEY_PATTERN = re.compile(rf"{KEY_PREFIX}[0-9A-Za-z]{{{_RANDOM_LENGTH + _CHECKSUM_LENGTH}}}")


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, index = divmod(number, 62)
        chars.append(_BASE62[index])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_LENGTH)


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_raw_key() -> str:
    body = KEY_PREFIX + "".join(secrets.choice(_BASE62) for _ in range(_RANDOM_LENGTH))
    return body + _checksum(body)


@dataclass(frozen=True)
class ParsedKey:
    lookup_prefix: str
    digest: str


def parse(raw_key: str) -> ParsedKey | None:
    """Return the lookup prefix and digest of a well-formed key, or None for anything else.

    Runs in constant work for hostile input: the length is checked before the regex.
    """
    if len(raw_key) != KEY_LENGTH or not _KEY_PATTERN.fullmatch(raw_key):
        return None
    body, checksum = raw_key[:-_CHECKSUM_LENGTH], raw_key[-_CHECKSUM_LENGTH:]
    if not hmac.compare_digest(_checksum(body), checksum):
        return None
    return ParsedKey(lookup_prefix=raw_key[:_LOOKUP_LENGTH], digest=digest(raw_key))


def create_api_key(
    *,
    team: Team,
    created_by: User | None,
    name: str,
    expires_at: datetime | None = None,
    allowed_models: list[str] | None = None,
    monthly_credit_limit: Decimal | None = None,
    scopes: list[str] | None = None,
    require_end_user: bool = False,
    rolled_from: ApiKey | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw key, which is never stored or shown again.
    Without ``scopes`` the key may do everything."""
    scopes = check_scopes(all_scopes() if scopes is None else scopes)
    for _attempt in range(5):
        raw_key = generate_raw_key()
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    team=team,
                    created_by=created_by,
                    name=name,
                    prefix=raw_key[:_LOOKUP_LENGTH],
                    digest=digest(raw_key),
                    expires_at=expires_at,
                    allowed_models=allowed_models or [],
                    monthly_credit_limit=monthly_credit_limit,
                    scopes=scopes,
                    require_end_user=require_end_user,
                    rolled_from=rolled_from,
                    rate_limit_per_minute=rate_limit_per_minute,
                )
        except IntegrityError:
            continue  # a lookup-prefix collision (1 in 62^8): draw again
        return api_key, raw_key
    raise RuntimeError("Could not draw a unique API key prefix")


class KeyRefused(Exception):
    """The message is fit to show to the user."""


def check_scopes(scopes: list[str]) -> list[str]:
    """Known scopes, at least one, in the canonical order."""
    chosen = [scope for scope in Scope.values if scope in scopes]
    if not chosen or len(chosen) != len(set(scopes)):
        raise KeyRefused(f"Choose one or more scopes among {', '.join(Scope.values)}.")
    return chosen


ROLL_GRACE_CHOICES = (
    (timedelta(0), "none: the old key stops now"),
    (timedelta(hours=1), "1 hour"),
    (timedelta(hours=24), "24 hours"),
    (timedelta(days=7), "7 days"),
)


def roll_api_key(*, api_key: ApiKey, grace: timedelta) -> tuple[ApiKey, str]:
    """Issue a successor with the old key's name, scopes, models, limit, expiry and
    end-user rule (and its creator, whose spending it counts as), and let the old key work
    for ``grace`` more, so a deployment can switch without downtime. Returns the successor
    and its raw key. A revoked, expired or already rolled key cannot be rolled."""
    now = timezone.now()
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if not locked.is_active:
            raise KeyRefused("Only an active key can be rolled.")
        if locked.successors.exists():
            raise KeyRefused("This key was rolled already; roll its successor instead.")
        successor, raw_key = create_api_key(
            team=locked.team,
            created_by=locked.created_by,
            name=locked.name,
            expires_at=locked.expires_at,
            allowed_models=locked.allowed_models,
            monthly_credit_limit=locked.monthly_credit_limit,
            rate_limit_per_minute=locked.rate_limit_per_minute,
            scopes=locked.scopes,
            require_end_user=locked.require_end_user,
            rolled_from=locked,
        )
        ends = now + grace
        if locked.expires_at is None or ends < locked.expires_at:
            ApiKey.objects.filter(pk=locked.pk).update(expires_at=ends)
    api_key.refresh_from_db()
    return successor, raw_key


def rename_api_key(*, api_key: ApiKey, name: str) -> None:
    """Rename a key (its secret and everything else stay as they are)."""
    ApiKey.objects.filter(pk=api_key.pk).update(name=name)
    api_key.name = name


def revoke_api_key(*, api_key: ApiKey, revoked_by: User | None) -> bool:
    """Revoke a key; returns False if it was already revoked (a repeated click is harmless)."""
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=revoked_by
    )
    api_key.refresh_from_db()
    return bool(updated)


def find_active_key(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, with its team, or None.

    Every API request asks, so it is one SELECT written out (see pixdash/core/rows.py)."""
    parsed = parse(raw_key)
    if parsed is None:
        return None
    sql = (
        f"SELECT {rows.columns(ApiKey, 'k')}, {rows.columns(Team, 't')} "
        f"FROM {ApiKey._meta.db_table} k JOIN {Team._meta.db_table} t ON t.id = k.team_id "
        "WHERE k.prefix = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [parsed.lookup_prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    api_key, team = rows.instances(row, (ApiKey, "k"), (Team, "t"))
    if not hmac.compare_digest(api_key.digest, parsed.digest):
        return None
    api_key.team = team
    return api_key if api_key.is_active else None


def touch_last_used(api_key: ApiKey) -> None:
    """Record use at most once per PIXDASH_KEY_LAST_USED_INTERVAL seconds.

    A conditional UPDATE so concurrent requests of a busy key write at most once per
    interval and never block each other on a row lock.
    """
    now = timezone.now()
    interval = timedelta(seconds=settings.PIXDASH_KEY_LAST_USED_INTERVAL)
    if api_key.last_used_at and api_key.last_used_at > now - interval:
        return
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval), pk=api_key.pk
    ).update(last_used_at=now)
    api_key.last_used_at = now
