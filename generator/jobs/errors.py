"""What the pipeline refuses, in domain terms. No HTTP here: the API maps these to
status codes in one table (generator/api/errors.py) and the pages show ``message``."""


class JobError(Exception):
    """A request the pipeline refuses; ``param`` names the field at fault, if one is."""

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.message, self.param = message, param


class ModelNotFound(JobError):
    """No enabled model has that public id or alias."""


class ModelUnavailable(JobError):
    """The model (and every fallback) has no configured provider right now."""


class NotPermitted(JobError):
    """The key may not use the model, or a key or member spending limit would be passed."""


class IdempotencyMismatch(JobError):
    """The same Idempotency-Key came with a different request."""


class TooManyJobsInFlight(JobError):
    """The team already has as many jobs queued or running as it may; ``retry_after`` is
    a suggested wait in seconds."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class QueueUnavailable(JobError):
    """The broker refused the job; it was failed and its hold released at once."""


class AlreadyFinished(JobError):
    """The job completed or failed before it could be canceled."""


class RetryLater(Exception):
    """Every image failed for a passing reason; the task should try again after ``countdown``."""

    def __init__(self, countdown: float):
        super().__init__(f"retry in {countdown:.1f}s")
        self.countdown = countdown
