"""People get Pixdash's own 404 page, also when the server runs in debug mode.

In debug, Django answers an Http404 with its technical page (the URL patterns, settings
names): useful to a developer reading a traceback, confusing to someone trying Pixdash with
`make run`. The /v1 API answers its own JSON errors and is left alone.
"""

from django.conf import settings
from django.http import Http404
from django.views.defaults import page_not_found

from pixdash.core.hybrid import HybridMiddleware


class FriendlyNotFoundMiddleware(HybridMiddleware):
    """Nothing on the way in or out: only process_exception acts, so requests that do not
    404 pay nothing (and no thread hop under ASGI)."""

    def call(self, request):
        return self.get_response(request)

    async def acall(self, request):
        return await self.get_response(request)

    def process_exception(self, request, exception):
        api = request.path.startswith("/v1/")
        if settings.DEBUG and isinstance(exception, Http404) and not api:
            return page_not_found(request, exception)
        return None
