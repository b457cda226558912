"""When the database is unreachable: a retryable 503, never a 500 or a debug page.

OperationalError and InterfaceError are what Django raises when PostgreSQL refuses or drops
connections, when the pool hands none out within its timeout, or when SQLite stays locked:
conditions that pass. The /v1 API answers them in its JSON envelope (generator/api/base.py
catches them around authentication and the view); pages get a standalone 503 page from
OutageMiddleware (errors in views) and from the project's 500 handler (errors elsewhere,
e.g. saving a session).
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin
from django.views.defaults import server_error

from pixdash.core.api_errors import error_response

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
try:
    import psycopg

    # Raised unwrapped where Django's error wrapper is not around the driver (the pool
    # handing out or taking back a connection); PoolTimeout is an OperationalError too.
    DATABASE_UNAVAILABLE += (psycopg.OperationalError, psycopg.InterfaceError)
except ImportError:  # SQLite-only installs
    pass
RETRY_AFTER_SECONDS = 5
API_MESSAGE = "The service is temporarily unavailable. Nothing was charged; try again shortly."


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for ``request``: the JSON envelope on /v1, the standalone page elsewhere.
    Neither touches the database, the session or the context processors."""
    logger.warning(
        "database unavailable: %s %s answered 503",
        request.method,
        request.path,
        exc_info=sys.exc_info()[0] is not None,
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/v1/"):
        return error_response(
            request, status=503, code="service_unavailable", message=API_MESSAGE, headers=headers
        )
    return HttpResponse(render_to_string("503.html"), status=503, headers=headers)


class OutageMiddleware(MiddlewareMixin):
    """Turns a database outage raised by a view into the 503 answer, in debug mode too."""

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return unavailable_response(request)
        return None


def server_error_or_unavailable(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """handler500: the 503 when what failed was the database (e.g. in a middleware)."""
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return unavailable_response(request)
    return server_error(request, *args, **kwargs)
