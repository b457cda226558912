"""The ASGI worker gunicorn runs in production (deploy/gunicorn.conf.py).

uvicorn's event loop and HTTP parser under gunicorn's process manager: gunicorn forks the
web processes, restarts one that dies and reloads them gracefully on SIGHUP. Django has no
ASGI lifespan handlers, so the lifespan protocol is off, as in development.
"""

from uvicorn_worker import UvicornWorker as _UvicornWorker


class UvicornWorker(_UvicornWorker):
    CONFIG_KWARGS = {**_UvicornWorker.CONFIG_KWARGS, "lifespan": "off"}
