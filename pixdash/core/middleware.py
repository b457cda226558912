"""Request ids: every response carries X-Request-Id, and API errors echo it."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from pixdash.core.ids import new_ulid


def new_request_id() -> str:
    return f"req_{new_ulid()}"


class RequestIdMiddleware:
    """Gives each request an id (never taken from the client) and returns it as a header.

    Sync and async capable, so async API views under ASGI pay no extra thread hop.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        request.request_id = new_request_id()
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response

    async def _acall(self, request):
        request.request_id = new_request_id()
        response = await self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response
