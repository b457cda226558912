"""Google Gemini image models over the REST generateContent endpoint (docs/API.md §3).

One call makes one image (the API refuses several candidates); the pipeline makes n calls.
The key travels in the ``x-goog-api-key`` header, never in the URL, so it cannot end up
in an access log or an exception message that quotes the URL.

Mapping of what can come back:

- an image part (``inlineData`` or ``inline_data``, not a ``thought`` part) → the image;
- no candidates and ``promptFeedback.blockReason``, or a safety ``finishReason`` →
  PROMPT_REJECTED (our 422, nothing charged);
- other finish reasons, or text only → NO_IMAGE;
- HTTP 400 with reason API_KEY_INVALID, 401, 403, 404 (model name retired) →
  MISCONFIGURED with a loud log line: the operator has to act;
- 408/429/5xx, timeouts and connection errors → retried here with full-jitter backoff
  within a deadline, then UPSTREAM_UNAVAILABLE (retryable: the job may try again later);
- anything else 4xx → BAD_REQUEST.
"""

import base64
import binascii
import logging
import math

import httpx
import orjson
import pybase64

from generator.providers import http
from generator.providers.base import (
    ErrorCode,
    ImageRequest,
    ProviderError,
    ProviderImage,
    scrubbed,
)

logger = logging.getLogger(__name__)

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
SAFETY_REASONS = frozenset(
    {
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "PROHIBITED_CONTENT",
        "SAFETY",
        "BLOCKLIST",
        "SPII",
    }
)
# Headers Google (or a proxy in front of it) may carry a request id in.
REQUEST_ID_HEADERS = ("x-goog-request-id", "x-request-id", "x-cloud-trace-context")


class GeminiProvider:
    name = "gemini"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: http.RetryPolicy | None = None,
    ):
        self._base_url = base_url.rstrip("/")
        self._policy = policy or http.RetryPolicy.from_settings()
        self._headers = {"x-goog-api-key": api_key, "Content-Type": "application/json"}
        self._client = http.LoopBoundClient(
            lambda: http.build_async_client(transport=transport),
            shareable=transport is None,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def generate(self, request: ImageRequest) -> ProviderImage:
        client = self._client.get()
        url = f"{self._base_url}/v1beta/models/{request.upstream_model}:generateContent"
        try:
            response = await http.call(
                client,
                "POST",
                url,
                policy=self._policy.within(request.seconds_left()),
                content=orjson.dumps(request_body(request)),
                headers=self._headers,
            )
        except http.Unreachable as error:
            what = "timed out" if error.timed_out else "could not be reached"
            raise ProviderError(
                f"Gemini {what} ({error}).",
                code=ErrorCode.UPSTREAM_UNAVAILABLE,
                retryable=True,
            ) from None
        except (http.BodyTooLarge, httpx.DecodingError) as error:
            raise ProviderError(
                f"Gemini's answer was refused: {error}.", code=ErrorCode.NO_IMAGE
            ) from None
        request_id = _header_request_id(response)
        if response.status_code != 200:
            raise _error_for(response, request.upstream_model, request_id)
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ProviderError(
                "Gemini answered 200 with a body that is not JSON.",
                code=ErrorCode.UPSTREAM_UNAVAILABLE,
                retryable=True,
                upstream_status=200,
                upstream_request_id=request_id,
            ) from None
        if not isinstance(answer, dict):
            answer = {}
        return parse_answer(answer, request_id or str(answer.get("responseId") or ""))


def request_body(request: ImageRequest) -> dict:
    parts: list[dict] = [{"text": request.prompt}]
    # Gemini has no mask parameter; a masked edit is an ordinary edit of the images.
    for image in request.images:
        parts.append(
            {
                "inline_data": {
                    "mime_type": image.mime_type,
                    "data": base64.b64encode(image.data).decode("ascii"),
                }
            }
        )
    return {
        "contents": [{"role": "user", "parts": parts}],
        "generationConfig": {
            "responseModalities": ["IMAGE"],
            "imageConfig": {"aspectRatio": aspect_ratio(request)},
        },
    }


def aspect_ratio(request: ImageRequest) -> str:
    """The request's ratio if Gemini supports it, else the supported one nearest to the
    requested width/height (on a log scale)."""
    if request.aspect_ratio in ASPECT_RATIOS:
        return request.aspect_ratio
    wanted = math.log(max(request.width, 1) / max(request.height, 1))

    def distance(ratio: str) -> float:
        width, height = ratio.split(":")
        return abs(math.log(int(width) / int(height)) - wanted)

    return min(ASPECT_RATIOS, key=distance)


def parse_answer(answer: dict, request_id: str) -> ProviderImage:
    candidates = answer.get("candidates") or []
    texts: list[str] = []
    finish_reasons: list[str] = []
    for candidate in candidates:
        if not isinstance(candidate, dict):
            continue
        finish_reasons.append(str(candidate.get("finishReason") or ""))
        for part in (candidate.get("content") or {}).get("parts") or []:
            if not isinstance(part, dict) or part.get("thought"):
                continue  # thought parts are the model's drafts, not the answer
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
                continue
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict):
                image = _image(inline, request_id)
                if image is not None:
                    return image
    block = (answer.get("promptFeedback") or {}).get("blockReason")
    if block:
        raise ProviderError(
            f"The prompt was blocked by the model's safety filter ({block}).",
            code=ErrorCode.PROMPT_REJECTED,
            upstream_status=200,
            upstream_request_id=request_id,
            details={"block_reason": block},
        )
    safety = [reason for reason in finish_reasons if reason in SAFETY_REASONS]
    if safety:
        raise ProviderError(
            f"The image was blocked by the model's safety filter ({safety[0]}).",
            code=ErrorCode.PROMPT_REJECTED,
            upstream_status=200,
            upstream_request_id=request_id,
            details={"finish_reason": safety[0]},
        )
    reason = next((r for r in finish_reasons if r and r != "STOP"), "")
    said = " ".join(texts).strip()
    message = "The model answered without an image"
    if reason:
        message += f" ({reason})"
    if said:
        message += f": {said[:200]}"
    raise ProviderError(
        message + ".",
        code=ErrorCode.NO_IMAGE,
        upstream_status=200,
        upstream_request_id=request_id,
        details={"finish_reason": reason},
    )


def _image(inline: dict, request_id: str) -> ProviderImage | None:
    mime_type = str(inline.get("mimeType") or inline.get("mime_type") or "")
    if not mime_type.startswith("image/"):
        return None
    encoded = inline.get("data") or ""
    try:
        data = pybase64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None
    if not data:
        return None
    return ProviderImage(
        data=data, mime_type=mime_type, upstream_request_id=request_id, base64=encoded
    )


def _header_request_id(response: httpx.Response) -> str:
    for header in REQUEST_ID_HEADERS:
        if response.headers.get(header):
            return response.headers[header][:200]
    return ""


def _error_for(response: httpx.Response, model: str, request_id: str) -> ProviderError:
    status = response.status_code
    error = _google_error(response)
    reasons = {
        scrubbed(str(detail.get("reason")), limit=60)
        for detail in error.get("details") or []
        if isinstance(detail, dict) and detail.get("reason")
    }
    google_status = scrubbed(str(error.get("status") or ""), limit=60)
    # For our logs only, scrubbed; messages that reach clients and rows are our own.
    text = scrubbed(str(error.get("message") or response.reason_phrase or ""))
    common = {"upstream_status": status, "upstream_request_id": request_id}
    if "API_KEY_INVALID" in reasons or status in (401, 403):
        # Loud: every Gemini image fails until an operator fixes the key. The message
        # is Google's, which names the problem but never echoes the key.
        logger.error(
            "Gemini rejected the configured API key (HTTP %s %s %s): check "
            "PIXDASH_GEMINI_API_KEY. %s",
            status,
            google_status,
            ",".join(sorted(reasons)),
            text,
        )
        return ProviderError(
            "The Gemini provider is misconfigured on this server (API key rejected).",
            code=ErrorCode.MISCONFIGURED,
            **common,
        )
    if status == 404:
        logger.error(
            "Gemini does not know the model %r (HTTP 404): point its catalog entry at a "
            "current upstream model name. %s",
            model,
            text,
        )
        return ProviderError(
            f"The upstream model {model} does not exist (any more).",
            code=ErrorCode.MISCONFIGURED,
            **common,
        )
    if status in http.RETRY_STATUSES or status >= 500:
        return ProviderError(
            f"Gemini is unavailable (HTTP {status} {google_status}).".replace(" )", ")"),
            code=ErrorCode.UPSTREAM_UNAVAILABLE,
            retryable=True,
            **common,
        )
    logger.warning("Gemini refused a request (HTTP %s %s): %s", status, google_status, text)
    return ProviderError(
        f"Gemini refused the request (HTTP {status}).",
        code=ErrorCode.BAD_REQUEST,
        **common,
    )


def _google_error(response: httpx.Response) -> dict:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
