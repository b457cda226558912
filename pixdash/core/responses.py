"""JSON answers serialised with orjson: an API answer can carry megabytes of base64, which
the standard library's encoder (behind Django's JsonResponse) takes ~6 ms per image for."""

import orjson
from django.http import HttpResponse


class JSONResponse(HttpResponse):
    def __init__(self, data, *, status: int = 200, headers: dict | None = None):
        super().__init__(
            orjson.dumps(data), status=status, headers=headers, content_type="application/json"
        )
