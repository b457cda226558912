"""The OpenAI-compatible /v1 API.

    base.py         api_view: bearer auth, method check, rate limit, errors in the envelope
    errors.py       ApiError and the one table mapping domain errors to HTTP
    parsing.py      request bodies (JSON and multipart) → jobs.GenerationSpec
    serializers.py  one function per response shape
    images.py       generations and edits, sync and async
    tasks.py        task polling
    catalog.py      the model list
    schemas.py      the pydantic models behind validation, responses and openapi.py

Generation endpoints are async views: under the ASGI server one process holds many slow
upstream calls without a thread each. Database work happens in short steps on a worker
thread (jobs.run_now), never across the upstream call.
"""
