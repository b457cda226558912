"""A scripted upstream at the httpx transport, shared by the provider adapters' tests."""

import json

import httpx
from asgiref.sync import async_to_sync


class FakeUpstream:
    """Scripted answers in order (the last one repeats); records every request. An answer
    is a JSON body, an httpx.Response, an exception to raise, or a callable of the request
    returning one of those."""

    default_headers: dict[str, str] = {}

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer, headers=self.default_headers)

    @property
    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]


def run_adapter(adapter, request):
    """One generate() on a fresh event loop, closing the adapter's client after it."""

    async def go():
        try:
            return await adapter.generate(request)
        finally:
            await adapter.aclose()

    return async_to_sync(go)()
