"""The ASGI application: /v1 goes to the API's lean handler, everything else to Django's.

Run it with uvicorn (one process) or with several worker processes (see the Procfile).
"""

import os

from django.core.asgi import get_asgi_application

from pixdash.envfile import load_env_file

load_env_file()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pixdash.settings")

pages = get_asgi_application()  # sets Django up; import API code only after it

from pixdash.core.api_handler import ApiHandler  # noqa: E402

api = ApiHandler()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith("/v1/"):
        await api(scope, receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)
    else:
        await pages(scope, receive, send)


async def _lifespan(receive, send) -> None:
    # Nothing to start or stop: pools and clients are opened lazily on first use.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
