"""The OpenAI error envelope, shared by every /v1 response that is not a success."""

from django.http import HttpRequest

from pixdash.core.responses import JSONResponse

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    402: "insufficient_credits",
    403: "permission_denied",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


def error_response(
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str,
    param: str | None = None,
    error_type: str | None = None,
    should_retry: bool | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An OpenAI-style error: all four keys present, ``code`` a string, plus request_id.

    ``should_retry`` sets ``x-should-retry`` so the OpenAI SDK does not retry failures that
    would fail the same way again.
    """
    body = {
        "error": {
            "message": message,
            "type": error_type or _TYPE_BY_STATUS.get(status, "invalid_request_error"),
            "param": param,
            "code": code,
            "request_id": getattr(request, "request_id", None),
        }
    }
    response = JSONResponse(body, status=status, headers=headers)
    if should_retry is not None:
        response["x-should-retry"] = "true" if should_retry else "false"
    return response
