"""gunicorn for Pixdash: PIXDASH_WEB_PROCESSES uvicorn workers on PIXDASH_HOST:PIXDASH_PORT.

    gunicorn -c deploy/gunicorn.conf.py pixdash.asgi:application

Each web process is an asyncio server that holds many slow sync generations at once, so
a few processes per machine are enough (docs/deployment.md, "Sizing").
"""

import os

from pixdash.envfile import load_env_file

load_env_file()

bind = f"{os.environ.get('PIXDASH_HOST', '127.0.0.1')}:{os.environ.get('PIXDASH_PORT', '8000')}"
workers = int(os.environ.get("PIXDASH_WEB_PROCESSES", "2"))
worker_class = "pixdash.core.serving.UvicornWorker"
# Pixdash logs one line per API request itself (with request id, team and key prefix).
accesslog = None
errorlog = "-"
# A worker that stops answering gunicorn's heartbeat for this long is replaced; slow
# upstream calls do not count (they are awaited, the event loop keeps beating).
timeout = 60
# Idle keep-alive connections stay open longer than a proxy's (nginx: 60 s) or a client
# pool's idle time, so the server is never the side that closes a connection just as it
# is reused (the client sees "connection reset").
keepalive = 75
# On SIGTERM, requests in flight get this long to finish (sync generations included).
graceful_timeout = int(os.environ.get("PIXDASH_JOB_TIME_LIMIT", "300")) + 30
# The TLS proxy in front sets X-Forwarded-*; trust it only from where it connects.
forwarded_allow_ips = os.environ.get("PIXDASH_FORWARDED_ALLOW_IPS", "127.0.0.1")
