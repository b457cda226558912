"""What every provider adapter speaks: our request and result dataclasses, the Provider
protocol, and ProviderError.

Adapters translate between these and a vendor's wire format. They never touch the ORM,
billing or storage: generator/jobs/ does, so an adapter can be tested with nothing but an httpx
transport.
"""

import re
import time
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class InputImage:
    """A reference image for an edit, already sniffed, size-checked and re-encoded."""

    data: bytes
    mime_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ImageRequest:
    """One image to make. ``n`` images are ``n`` requests that differ only in ``index``."""

    upstream_model: str
    prompt: str
    width: int
    height: int
    aspect_ratio: str
    index: int = 0
    seed: int = 0
    quality: str | None = None
    output_format: str = "png"
    background: str | None = None
    images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None
    # time.monotonic() by which the image must be made (the job's deadline), if any.
    deadline: float | None = None

    @property
    def is_edit(self) -> bool:
        return bool(self.images)

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()


@dataclass(frozen=True)
class ProviderImage:
    data: bytes
    mime_type: str
    upstream_request_id: str = ""
    revised_prompt: str | None = None
    # The image as the upstream sent it in base64, when it did: answered as is to a
    # b64_json request for the same format instead of being encoded again.
    base64: str | None = None


class ErrorCode:
    """Why an image failed, in terms the API and the UI can explain."""

    PROMPT_REJECTED = "prompt_rejected"  # safety block: 422, nothing charged
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"  # 5xx, 429, timeout: retry later
    MISCONFIGURED = "provider_misconfigured"  # bad provider key or base URL: operator's fault
    NO_IMAGE = "no_image"  # the model answered without an image
    BAD_REQUEST = "upstream_bad_request"  # the upstream refused our request


@dataclass
class ProviderError(Exception):
    message: str
    code: str = ErrorCode.UPSTREAM_UNAVAILABLE
    retryable: bool = False
    upstream_status: int | None = None
    upstream_request_id: str = ""
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class Provider(Protocol):
    """Makes one image per call. Raise ProviderError for anything but an image."""

    name: str

    async def generate(self, request: ImageRequest) -> ProviderImage: ...


# Credentials an upstream may echo back in an error body: bearer tokens, OpenAI-style and
# Google API keys, key= query parameters.
_CREDENTIALS = re.compile(
    r"(?i)(bearer\s+\S+|sk-[A-Za-z0-9_\-]{6,}|AIza[0-9A-Za-z_\-]{10,}|key=[^&\s'\"]+)"
)


def scrubbed(text: str, *, limit: int = 200) -> str:
    """An upstream error text made safe for our logs: the configured provider keys and
    anything shaped like a credential removed, cut to ``limit`` characters. Upstream text
    never reaches a client or a row, scrubbed or not."""
    from django.conf import settings

    for secret in (settings.PIXDASH_OPENAI_API_KEY, settings.PIXDASH_GEMINI_API_KEY):
        if secret:
            text = text.replace(secret, "[redacted]")
    return _CREDENTIALS.sub("[redacted]", text)[:limit]
