"""Any server that speaks the OpenAI Images API (OpenAI itself, Pixapi, another gateway).

JSON to ``{base}/images/generations``, multipart to ``{base}/images/edits``, one image per
call (the pipeline makes n calls), ``Authorization: Bearer`` with the operator's key.

We always want the bytes, never the provider's URL (it expires in about an hour and points
at someone else's storage): we ask for ``b64_json``, except from GPT image models, which
reject ``response_format`` and always answer base64. If a URL comes back anyway it is
downloaded at once, streamed, with a size cap, and without our Authorization header (the
URL is usually another host).

Errors: 401/403, 404 (unknown model) and 429 insufficient_quota → MISCONFIGURED with a
loud log; 400 content_policy_violation / moderation_blocked → PROMPT_REJECTED;
408/429/5xx, timeouts and connection errors → retried here with backoff, then
UPSTREAM_UNAVAILABLE; any other 4xx → BAD_REQUEST.
"""

import binascii
import logging

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

MAX_DOWNLOAD_BYTES = 30 * 1024 * 1024
REJECTION_CODES = frozenset({"content_policy_violation", "moderation_blocked"})
MIME_BY_FORMAT = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}
MIME_BY_FORMAT["webp"] = "image/webp"


def is_gpt_image(model: str) -> bool:
    return model.lower().startswith(("gpt-image", "chatgpt-image"))


class OpenAICompatProvider:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: http.RetryPolicy | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
    ):
        self._base_url = base_url.rstrip("/")
        self._max_download_bytes = max_download_bytes
        self._policy = policy or http.RetryPolicy.from_settings()
        # Sent with our own calls only: the same client downloads result URLs from other
        # hosts, which must never see our key.
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._client = http.LoopBoundClient(
            lambda: http.build_async_client(transport=transport),
            shareable=transport is None,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def generate(self, request: ImageRequest) -> ProviderImage:
        client = self._client.get()
        if request.is_edit:
            data, files = edit_form(request)
            url, content = f"{self._base_url}/images/edits", {"data": data, "files": files}
        else:
            headers = {**self._auth, "Content-Type": "application/json"}
            url = f"{self._base_url}/images/generations"
            content = {"content": orjson.dumps(generation_body(request)), "headers": headers}
        content.setdefault("headers", self._auth)
        policy = self._policy.within(request.seconds_left())
        try:
            response = await http.call(client, "POST", url, policy=policy, **content)
        except http.Unreachable as error:
            what = "timed out" if error.timed_out else "could not be reached"
            raise ProviderError(
                f"The image API {what} ({error}).",
                code=ErrorCode.UPSTREAM_UNAVAILABLE,
                retryable=True,
            ) from None
        except (http.BodyTooLarge, httpx.DecodingError) as error:
            raise _no_image(f"The image API's answer was refused: {error}.", "") from None
        request_id = response.headers.get("x-request-id", "")[:200]
        if response.status_code != 200:
            raise _error_for(response, request.upstream_model, request_id)
        item = _first_item(response, request_id)
        return await self._image(client, item, request, request_id)

    async def _image(
        self, client: httpx.AsyncClient, item: dict, request: ImageRequest, request_id: str
    ) -> ProviderImage:
        revised = (
            item.get("revised_prompt") if isinstance(item.get("revised_prompt"), str) else None
        )
        mime_type = MIME_BY_FORMAT.get((request.output_format or "png").lower(), "image/png")
        encoded = item.get("b64_json")
        if encoded:
            try:
                data = pybase64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise _no_image("The image API returned invalid base64.", request_id) from None
        elif isinstance(item.get("url"), str):
            encoded = None
            data, mime_type = await self._download(
                client, item["url"], mime_type, request, request_id
            )
        else:
            raise _no_image("The image API answered without an image.", request_id)
        if not data:
            raise _no_image("The image API returned an empty image.", request_id)
        # The true type is sniffed again by the pipeline's storage step; this is a hint.
        return ProviderImage(
            data=data,
            mime_type=mime_type,
            upstream_request_id=request_id,
            revised_prompt=revised,
            base64=encoded,
        )

    async def _download(
        self,
        client: httpx.AsyncClient,
        url: str,
        mime_type: str,
        request: ImageRequest,
        request_id: str,
    ) -> tuple[bytes, str]:
        if not url.startswith(("https://", "http://")):
            raise _no_image("The image API returned an unusable image URL.", request_id)
        policy = http.RetryPolicy(
            attempts=1, deadline=self._policy.deadline, max_bytes=self._max_download_bytes
        ).within(request.seconds_left())
        try:
            response = await http.call(client, "GET", url, policy=policy)
        except http.BodyTooLarge:
            raise _too_big(self._max_download_bytes, request_id) from None
        except (http.Unreachable, httpx.HTTPError) as error:
            raise ProviderError(
                f"Downloading the result failed ({type(error).__name__}).",
                code=ErrorCode.UPSTREAM_UNAVAILABLE,
                retryable=True,
                upstream_request_id=request_id,
            ) from None
        if response.status_code != 200:
            raise ProviderError(
                f"Downloading the result failed (HTTP {response.status_code}).",
                code=ErrorCode.UPSTREAM_UNAVAILABLE,
                retryable=response.status_code >= 500 or response.status_code == 429,
                upstream_status=response.status_code,
                upstream_request_id=request_id,
            )
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if content_type.startswith("image/"):
            mime_type = content_type
        return response.content, mime_type


def generation_body(request: ImageRequest) -> dict:
    body: dict = {
        "model": request.upstream_model,
        "prompt": request.prompt,
        "n": 1,
        "size": f"{request.width}x{request.height}",
    }
    body.update(_options(request))
    return body


def edit_form(request: ImageRequest) -> tuple[dict, list]:
    data = {
        "model": request.upstream_model,
        "prompt": request.prompt,
        "n": "1",
        "size": f"{request.width}x{request.height}",
    }
    data.update({key: str(value) for key, value in _options(request).items()})
    files = [
        ("image[]", (f"image_{i}.{_extension(image.mime_type)}", image.data, image.mime_type))
        for i, image in enumerate(request.images)
    ]
    if request.mask is not None:
        files.append(("mask", ("mask.png", request.mask.data, request.mask.mime_type)))
    return data, files


def _options(request: ImageRequest) -> dict:
    options: dict = {}
    if request.quality:
        options["quality"] = request.quality
    if is_gpt_image(request.upstream_model):
        # GPT image models reject response_format and always answer b64_json; they take
        # output_format and background, which DALL-E-style models do not.
        options["output_format"] = (
            "jpeg" if request.output_format == "jpg" else request.output_format
        )
        if request.background:
            options["background"] = request.background
    else:
        options["response_format"] = "b64_json"
    return options


def _extension(mime_type: str) -> str:
    return mime_type.split("/")[-1].replace("jpeg", "jpg")


def _first_item(response: httpx.Response, request_id: str) -> dict:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ProviderError(
            "The image API answered 200 with a body that is not JSON.",
            code=ErrorCode.UPSTREAM_UNAVAILABLE,
            retryable=True,
            upstream_status=200,
            upstream_request_id=request_id,
        ) from None
    items = body.get("data") if isinstance(body, dict) else None
    if not items or not isinstance(items[0], dict):
        raise _no_image("The image API answered without an image.", request_id)
    return items[0]


def _no_image(message: str, request_id: str) -> ProviderError:
    return ProviderError(message, code=ErrorCode.NO_IMAGE, upstream_request_id=request_id)


def _too_big(cap: int, request_id: str) -> ProviderError:
    return ProviderError(
        f"The image API returned an image larger than {cap // (1024 * 1024)} MB.",
        code=ErrorCode.NO_IMAGE,
        upstream_request_id=request_id,
    )


def _error_for(response: httpx.Response, model: str, request_id: str) -> ProviderError:
    status = response.status_code
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = scrubbed(str(error.get("code") or ""), limit=60)
    # For our logs only, scrubbed; messages that reach clients and rows are our own.
    text = scrubbed(str(error.get("message") or response.reason_phrase or ""))
    common = {"upstream_status": status, "upstream_request_id": request_id}
    if status in (401, 403) or (status == 429 and code == "insufficient_quota"):
        # Upstream messages about keys show at most a masked key ("sk-ab***yz").
        logger.error(
            "The OpenAI-compatible API at %s rejected the configured key (HTTP %s %s): "
            "check PIXDASH_OPENAI_API_KEY. %s",
            response.request.url.host,
            status,
            code,
            text,
        )
        return ProviderError(
            "The OpenAI-compatible provider is misconfigured on this server "
            f"(HTTP {status} {code}).".replace(" )", ")"),
            code=ErrorCode.MISCONFIGURED,
            **common,
        )
    if status == 404:
        logger.error("The image API does not know the model %r (HTTP 404). %s", model, text)
        return ProviderError(
            f"The upstream model {model} does not exist.", code=ErrorCode.MISCONFIGURED, **common
        )
    if code in REJECTION_CODES or str(error.get("type") or "") in REJECTION_CODES:
        return ProviderError(
            f"The prompt was rejected by the provider's safety system ({code}).",
            code=ErrorCode.PROMPT_REJECTED,
            details={"upstream_code": code},
            **common,
        )
    if status in http.RETRY_STATUSES or status >= 500:
        return ProviderError(
            f"The image API is unavailable (HTTP {status}).",
            code=ErrorCode.UPSTREAM_UNAVAILABLE,
            retryable=True,
            **common,
        )
    logger.warning("The image API refused a request (HTTP %s %s): %s", status, code, text)
    return ProviderError(
        f"The image API refused the request (HTTP {status}).",
        code=ErrorCode.BAD_REQUEST,
        **common,
    )
