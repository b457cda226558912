"""api_view: what every /v1 endpoint shares."""

import logging
import math
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.views.decorators.csrf import csrf_exempt

from generator.api.errors import ApiError, respond
from pixdash.accounts.api_auth import api_key_required

logger = logging.getLogger(__name__)


def api_view(*methods: str, scope: str | tuple[str, ...] = ()):
    """Bearer auth, method check, the key's scope (any one of ``scope``), per-key rate
    limit, and errors always in the envelope."""
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
                _check_scope(request.api_key, scopes)
                await _check_rate_limit(request)
                return await view(request, *args, **kwargs)
            except ApiError as error:
                headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
                return respond(request, error, headers=headers)
            except Exception:
                logger.exception("unhandled error in %s", view.__name__)
                return respond(request, ApiError(500, "internal_error", "Internal error."))

        return csrf_exempt(api_key_required(wrapper))

    return decorator


def _check_scope(api_key, scopes: tuple[str, ...]) -> None:
    """In memory: the key row (and its scopes) came with authentication."""
    if scopes and not set(scopes).intersection(api_key.scopes):
        wanted = " or ".join(f"'{scope}'" for scope in scopes)
        raise ApiError(
            403, "permission_denied", f"This API key lacks the {wanted} scope for this request."
        )


async def _check_rate_limit(request) -> None:
    """A fixed one-minute window per key, counted in the shared cache (Redis in production)."""
    now = time.time()
    key = f"pixdash:ratelimit:{request.api_key.pk}:{int(now // 60)}"
    if await cache.aadd(key, 1, timeout=90):
        return
    try:
        count = await cache.aincr(key)
    except ValueError:  # the window's key expired between add and incr
        return
    if count > settings.PIXDASH_API_RATE_LIMIT:
        raise ApiError(
            429,
            "rate_limited",
            f"Rate limit of {settings.PIXDASH_API_RATE_LIMIT} requests per minute "
            "for this key reached.",
            retry_after=max(1, math.ceil(60 - now % 60)),
        )
