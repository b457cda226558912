"""Secrets shown once after a redirect: a new API key, a new invitation link.

A page that creates a secret redirects (so a reload never creates a second one), and the
page it lands on shows the secret once. Neither the database nor the browser ever holds
it readable on its own: the session (a database row) keeps a random pad, a short-lived
HttpOnly cookie keeps the secret XOR that pad, and the page that shows it clears both.
"""

import base64
import secrets

from django.conf import settings

_COOKIE = "pixdash_once"
_MAX_AGE = 120  # seconds: the redirect is followed at once


def _session_key(name: str) -> str:
    return f"pixdash.once.{name}"


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def stash(request, response, name: str, secret: str, *, about: int | None = None) -> None:
    """Keep ``secret`` for the next page that calls ``take(name)``; ``about`` (an id) lets
    that page say which object the secret belongs to."""
    data = secret.encode()
    pad = secrets.token_bytes(len(data))
    request.session[_session_key(name)] = {
        "pad": base64.b64encode(pad).decode(),
        "about": about,
    }
    response.set_cookie(
        f"{_COOKIE}_{name}",
        base64.urlsafe_b64encode(_xor(data, pad)).decode(),
        max_age=_MAX_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Strict",
    )


def take(request, name: str) -> tuple[str, int | None] | None:
    """The secret stashed under ``name`` and what it is about, once; None afterwards. The
    page must then ``clear`` the cookie on its response."""
    kept = request.session.pop(_session_key(name), None)
    cookie = request.COOKIES.get(f"{_COOKIE}_{name}")
    if not kept or not cookie:
        return None
    try:
        pad = base64.b64decode(kept["pad"])
        sealed = base64.urlsafe_b64decode(cookie.encode())
        return _xor(sealed, pad).decode(), kept.get("about")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def clear(response, name: str) -> None:
    response.delete_cookie(f"{_COOKIE}_{name}", samesite="Strict")
