"""The ASGI handler for /v1: Django's request objects, URL resolver and views, without
what the dashboard's pages need.

Django's own handler runs every request through the site's middleware (sessions, CSRF,
auth, messages: sync middleware, each a thread hop under ASGI), fires the request signals
(more hops) and cancels a view whose client hung up. The API uses none of that: its
middleware (PIXDASH_API_MIDDLEWARE) is async, it authenticates bearer keys itself, its
database work runs in short steps (pixdash/core/db.py), and a sync generation must finish
and settle whether or not its client is still there. So this handler reads the body,
resolves the URL, calls the view and sends the answer, nothing else.

It also admits at most PIXDASH_MAX_REQUESTS_IN_FLIGHT requests at a time: past that a
process answers 503 with Retry-After at once instead of taking in work it cannot finish.
"""

import asyncio
import logging

import orjson
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_script_prefix, set_urlconf
from django.utils.module_loading import import_string

from pixdash.core import loops, memory
from pixdash.core.middleware import new_request_id

# A process with nothing in flight for this long hands freed memory back to the system.
IDLE_TRIM_SECONDS = 1.0

logger = logging.getLogger(__name__)


class ApiHandler(ASGIHandler):
    def __init__(self):
        super().__init__()
        self.in_flight = 0
        self._trim: asyncio.TimerHandle | None = None

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response_async)
        for path in reversed(settings.PIXDASH_API_MIDDLEWARE):
            middleware = import_string(path)
            if not getattr(middleware, "async_capable", False):
                raise ImproperlyConfigured(f"API middleware must be async-capable: {path}")
            handler = convert_exception_to_response(middleware(handler))
        self._middleware_chain = handler

    async def handle(self, scope, receive, send):
        loops.mark_serving_loop()
        if self.in_flight >= settings.PIXDASH_MAX_REQUESTS_IN_FLIGHT:
            await _send_busy(send)
            return
        self.in_flight += 1
        try:
            await self._serve(scope, receive, send)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._trim_when_idle()

    def _trim_when_idle(self) -> None:
        if self._trim is not None:
            self._trim.cancel()
        self._trim = asyncio.get_running_loop().call_later(IDLE_TRIM_SECONDS, self._trim_now)

    def _trim_now(self) -> None:
        self._trim = None
        if not self.in_flight:
            memory.trim()

    async def _serve(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except Exception:  # the client went away mid-body (RequestAborted)
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                response = error_response
            else:
                set_urlconf(settings.ROOT_URLCONF)
                response = await self._middleware_chain(request)
            if not response.streaming and not response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
            await self.send_response(response, send)
            if request is not None:
                request.close()  # uploaded files of a multipart edit
        finally:
            body_file.close()


async def _send_busy(send) -> None:
    """503 in the API's error envelope, without reading the body or touching Django."""
    request_id = new_request_id()
    body = orjson.dumps(
        {
            "error": {
                "message": "This server is at capacity; retry shortly.",
                "type": "server_error",
                "param": None,
                "code": "service_unavailable",
                "request_id": request_id,
            }
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
