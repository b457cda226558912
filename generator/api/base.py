"""api_view: what every /v1 endpoint shares."""

import logging
from functools import wraps

from django.conf import settings
from django.views.decorators.csrf import csrf_exempt

from generator.api.errors import ApiError, respond
from pixdash.accounts.api_auth import authenticate, unauthorized
from pixdash.core import outages, ratelimit
from pixdash.core.db import db_step

logger = logging.getLogger(__name__)


class _Unauthorized(Exception):
    pass


def api_view(*methods: str, scope: str | tuple[str, ...] = ()):
    """Bearer auth, method check, the key's scope (any one of ``scope``), per-key rate
    limit, and errors always in the envelope (a database outage included, authentication
    too: 503).

    The key is checked in one database step (one thread hop) before the view runs; API
    views read no cookies, so CSRF does not apply."""
    scopes = (scope,) if isinstance(scope, str) else scope

    def decorator(view):
        @wraps(view)
        async def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return respond(
                    request,
                    ApiError(405, "method_not_allowed", f"Use {' or '.join(methods)} here."),
                    headers={"Allow": ", ".join(methods)},
                )
            try:
                await db_step(_authenticate, request)
                _check_scope(request.api_key, scopes)
                await _check_rate_limit(request)
                return await view(request, *args, **kwargs)
            except _Unauthorized:
                return unauthorized(request)
            except ApiError as error:
                headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
                return respond(request, error, headers=headers)
            except outages.DATABASE_UNAVAILABLE:
                return outages.unavailable_response(request)
            except Exception:
                logger.exception("unhandled error in %s", view.__name__)
                return respond(request, ApiError(500, "internal_error", "Internal error."))

        return csrf_exempt(wrapper)

    return decorator


def _authenticate(request) -> None:
    api_key = authenticate(request)
    if api_key is None:
        raise _Unauthorized
    request.api_key, request.team = api_key, api_key.team


def _check_scope(api_key, scopes: tuple[str, ...]) -> None:
    """In memory: the key row (and its scopes) came with authentication."""
    if scopes and not set(scopes).intersection(api_key.scopes):
        wanted = " or ".join(f"'{scope}'" for scope in scopes)
        raise ApiError(
            403, "permission_denied", f"This API key lacks the {wanted} scope for this request."
        )


async def _check_rate_limit(request) -> None:
    """Requests per minute per key: the key's own limit, else PIXDASH_API_RATE_LIMIT (one
    atomic Redis round trip; allowed when Redis is down)."""
    limit = request.api_key.rate_limit_per_minute or settings.PIXDASH_API_RATE_LIMIT
    decision = await ratelimit.ahit("api-key", str(request.api_key.pk), limit=limit)
    if not decision.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"Rate limit of {limit} requests per minute for this key reached.",
            retry_after=decision.retry_after,
        )
