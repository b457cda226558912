"""How jobs and images read in the browser: failures in words, elapsed time, costs."""

from django import template
from django.utils import timezone

from generator.models import Generation, Status
from generator.providers.base import ErrorCode
from pixdash.accounts.templatetags import formatting

register = template.Library()

_NOTHING = "nothing was charged"
_FAILURES = {
    ErrorCode.PROMPT_REJECTED: "The prompt was rejected by the model's safety filter",
    ErrorCode.UPSTREAM_UNAVAILABLE: "The provider is unavailable",
    ErrorCode.MISCONFIGURED: "The provider is unavailable",
    "model_unavailable": "The provider is unavailable",
    "queue_unavailable": "The job queue was unavailable",
    ErrorCode.NO_IMAGE: "The model answered without an image",
    ErrorCode.BAD_REQUEST: "The provider refused the request",
    "timeout": "The job did not finish in time",
    "internal_error": "Something went wrong on our side",
}


@register.filter
def status_label(generation: Generation) -> str:
    """The job's state in a word or two, as the cards and the activity log say it."""
    if generation.status == Status.PROCESSING and generation.cancel_requested_at:
        return "Canceling…"
    return {
        Status.COMPLETED: "Done",
        Status.FAILED: "Failed",
        Status.CANCELED: "Canceled",
        Status.PROCESSING: "Rendering…",
    }.get(generation.status, "Queued…")


def _credits_phrase(amount) -> str:
    return f"{formatting.credits(amount)} credit{'' if amount == 1 else 's'}"


@register.filter
def charge_text(generation: Generation) -> str:
    """What the job costs so far: on hold while it runs, charged once it is finished."""
    if not generation.is_finished:
        return f"{_credits_phrase(generation.credits_held)} on hold"
    if not generation.credits_charged:
        return "nothing charged"
    return f"{_credits_phrase(generation.credits_charged)} charged"


@register.filter
def failure_text(generation: Generation) -> str:
    """Why a job (or some of its images) failed, and what it cost: nothing for those."""
    if not generation.error_code and not generation.error_message:
        return ""
    if generation.status == Status.CANCELED:
        delivered = generation.images_delivered
        if delivered:
            return f"Canceled after {delivered} of {generation.n} images; only those were charged."
        return f"Canceled — {_NOTHING}."
    if generation.status == Status.COMPLETED:
        # Some images failed: the pipeline's own sentence already says they were free.
        failed = generation.n - generation.images_delivered
        reason = _FAILURES.get(generation.error_code, "the provider failed").lower()
        return f"{failed} of {generation.n} images failed ({reason}); they were not charged."
    reason = _FAILURES.get(generation.error_code)
    if reason is None:
        return f"{generation.error_message.rstrip('.')} — {_NOTHING}."
    return f"{reason} — {_NOTHING}."


@register.filter
def elapsed(generation: Generation) -> str:
    start = generation.created_at
    end = generation.finished_at or timezone.now()
    return seconds((end - start).total_seconds())


@register.filter
def seconds(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {int(value % 60)} s"


# The one credits format, for the generator's templates too.
register.filter("credits", formatting.credits)


@register.filter
def ratio_box(ratio: str) -> str:
    """An inline style drawing a small box of this aspect ratio (for the size picker)."""
    width, _, height = ratio.partition(":")
    w, h = int(width), int(height)
    scale = 22 / max(w, h)
    return f"width:{round(w * scale)}px;height:{round(h * scale)}px"
