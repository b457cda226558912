"""The /v1 handler: Django's request and views without the pages' middleware, and
admission control (a process never takes in more requests than it is set to finish)."""

import asyncio

import orjson

from pixdash.core.api_handler import ApiHandler


def call(handler: ApiHandler, path: str, *, headers=()) -> tuple[int, dict, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(handler(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


def test_past_the_in_flight_limit_it_answers_503_with_retry_after(settings):
    settings.PIXDASH_MAX_REQUESTS_IN_FLIGHT = 3
    handler = ApiHandler()
    handler.in_flight = 3  # three requests still running

    status, headers, body = call(handler, "/v1/models")

    assert status == 503
    assert headers["retry-after"] == "1"
    error = orjson.loads(body)["error"]
    assert error["code"] == "service_unavailable"
    assert error["request_id"] == headers["x-request-id"]
    assert handler.in_flight == 3


def test_under_the_limit_requests_reach_the_api_views(db, settings):
    settings.PIXDASH_MAX_REQUESTS_IN_FLIGHT = 3
    handler = ApiHandler()

    status, headers, body = call(handler, "/v1/models")

    assert status == 401  # the API's own answer: no key was sent
    assert orjson.loads(body)["error"]["code"] == "invalid_api_key"
    assert headers["content-length"] == str(len(body))
    assert headers["x-request-id"].startswith("req_")
    assert "set-cookie" not in headers  # no session middleware on /v1
    assert handler.in_flight == 0
