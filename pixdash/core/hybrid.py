"""A base for middleware that runs natively under both WSGI and ASGI."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class HybridMiddleware:
    """Sync and async capable: under ASGI, Django calls ``acall`` on the event loop, so
    the middleware adds no thread hop; under WSGI (and the test client) ``call``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.acall(request)
        return self.call(request)

    def call(self, request):
        raise NotImplementedError

    async def acall(self, request):
        raise NotImplementedError
