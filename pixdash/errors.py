"""People get Pixdash's own 404 page, also when the server runs in debug mode.

In debug, Django answers an Http404 with its technical page (the URL patterns, settings
names): useful to a developer reading a traceback, confusing to someone trying Pixdash with
`make run`. The /v1 API answers its own JSON errors and is left alone.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import Http404
from django.views.defaults import page_not_found


class FriendlyNotFoundMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        # Nothing to do on the way in or out: only process_exception matters, so no extra
        # sync/async hop for requests that do not 404.
        return self.get_response(request)

    def process_exception(self, request, exception):
        if (
            settings.DEBUG
            and isinstance(exception, Http404)
            and not request.path.startswith("/v1/")
        ):
            return page_not_found(request, exception)
        return None
