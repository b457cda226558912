"""Bearer-key authentication for the /v1 API views."""

import logging
from functools import wraps

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.views.decorators.csrf import csrf_exempt

from pixdash.accounts.keys import KEY_LENGTH, find_active_key, touch_last_used
from pixdash.accounts.models import ApiKey
from pixdash.core import observability
from pixdash.core.api_errors import error_response
from pixdash.core.db import db_step

logger = logging.getLogger(__name__)

# Long enough for any real key plus slack; anything longer is rejected before parsing.
_MAX_HEADER_LENGTH = KEY_LENGTH + 64


def _bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if len(header) > _MAX_HEADER_LENGTH:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def authenticate(request: HttpRequest) -> ApiKey | None:
    """The active key the request presents, or None. Never logs the key itself."""
    token = _bearer_token(request)
    if token is None:
        return None
    api_key = find_active_key(token)
    if api_key is None:
        logger.info("api auth rejected request_id=%s", getattr(request, "request_id", "-"))
        return None
    touch_last_used(api_key)
    observability.bind(team=api_key.team_id, key_prefix=api_key.prefix)
    return api_key


def unauthorized(request: HttpRequest):
    has_header = "Authorization" in request.headers
    message = (
        "Incorrect API key provided. Create or check your keys on the API keys page."
        if has_header
        else "Missing API key. Send it as 'Authorization: Bearer pd_live_...'."
    )
    return error_response(
        request,
        status=401,
        code="invalid_api_key",
        message=message,
        should_retry=False,
        headers={"WWW-Authenticate": 'Bearer realm="pixdash"'},
    )


def api_key_required(view):
    """Authenticate the bearer key, set ``request.api_key`` and ``request.team``, or 401.

    Works on sync and async views; API views read no cookies, so CSRF does not apply.
    """
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request, *args, **kwargs):
            api_key = await db_step(authenticate, request)
            if api_key is None:
                return unauthorized(request)
            request.api_key, request.team = api_key, api_key.team
            return await view(request, *args, **kwargs)

        return csrf_exempt(async_wrapper)

    @wraps(view)
    def sync_wrapper(request, *args, **kwargs):
        api_key = authenticate(request)
        if api_key is None:
            return unauthorized(request)
        request.api_key, request.team = api_key, api_key.team
        return view(request, *args, **kwargs)

    return csrf_exempt(sync_wrapper)
