"""API errors: ApiError, and the one table that maps the pipeline's domain errors to HTTP."""

from django.http import JsonResponse

from billing.ledger import InsufficientCredits
from generator import jobs
from pixdash.core.api_errors import error_response


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        *,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.retry_after = retry_after


# Most specific first: the first class the error is an instance of decides.
_DOMAIN_ERRORS: list[tuple[type[Exception], int, str]] = [
    (InsufficientCredits, 402, "insufficient_credits"),
    (jobs.ModelNotFound, 404, "model_not_found"),
    (jobs.ModelUnavailable, 503, "model_unavailable"),
    (jobs.NotPermitted, 403, "permission_denied"),
    (jobs.QueueUnavailable, 503, "queue_unavailable"),
    (jobs.TooManyJobsInFlight, 429, "too_many_jobs_in_flight"),
    (jobs.AlreadyFinished, 409, "task_finished"),
    (jobs.JobError, 400, "invalid_request_error"),
]


def from_domain(error: Exception) -> ApiError:
    """The ApiError for a domain error raised by the pipeline or the ledger."""
    for kind, status, code in _DOMAIN_ERRORS:
        if isinstance(error, kind):
            return ApiError(
                status,
                code,
                str(error),
                getattr(error, "param", None),
                retry_after=getattr(error, "retry_after", None),
            )
    raise TypeError(f"not a domain error: {error!r}") from error


DOMAIN_ERRORS = tuple(kind for kind, _status, _code in _DOMAIN_ERRORS)


# 409s the SDK should not retry either: unlike a running Idempotency-Key, they stay so.
_FINAL_CONFLICTS = frozenset({"task_finished"})


def respond(request, error: ApiError, **extra) -> JsonResponse:
    # 4xx answers other than 409 and 429 fail the same way when retried: tell the SDK.
    deterministic = 400 <= error.status < 500 and (
        error.status not in (409, 429) or error.code in _FINAL_CONFLICTS
    )
    return error_response(
        request,
        status=error.status,
        code=error.code,
        message=error.message,
        param=error.param,
        should_retry=False if deterministic else None,
        **extra,
    )
