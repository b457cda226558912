"""The /v1 wire shapes as pydantic models: requests are validated with them, responses are
built with them, and /v1/openapi.json is generated from them, so the three cannot drift."""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pixdash.core import outbound

SIZE_PATTERN = r"^(auto|\d{1,5}x\d{1,5}|\d{1,3}:\d{1,3})$"

# Fields that could redirect routing or billing if a gateway passed them through.
FORBIDDEN_FIELDS = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "team",
        "team_id",
        "cost",
        "price",
        "credits",
        "provider",
        "upstream_model",
        "upstream_url",
        "endpoint",
    }
)


class ImageRequestFields(BaseModel):
    """Fields shared by generations (JSON) and edits (multipart form strings)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=100, description="Public id or alias")
    prompt: str = Field(min_length=1, max_length=32000)
    n: int = Field(1, ge=1, le=10, description="Images to make; each is billed if delivered")
    size: str | None = Field(
        "auto", pattern=SIZE_PATTERN, description="auto, WIDTHxHEIGHT or a ratio like 16:9"
    )
    quality: Literal["auto", "low", "medium", "high", "standard", "hd"] | None = None
    response_format: Literal["url", "b64_json"] | None = "url"
    output_format: Literal["png", "jpeg", "webp"] | None = "png"
    output_compression: int | None = Field(None, ge=0, le=100)
    background: Literal["auto", "transparent", "opaque"] | None = None
    moderation: Literal["auto", "low"] | None = None
    style: Literal["vivid", "natural"] | None = None
    user: str | None = Field(None, max_length=256, description="Your end user's id")
    callback_url: str | None = Field(
        None,
        max_length=2048,
        description="https URL that receives the task's signed webhook when it finishes",
    )

    @field_validator("n", mode="before")
    @classmethod
    def _whole_number(cls, value):
        # Booleans are ints to Python; form fields arrive as strings.
        if isinstance(value, bool):
            raise ValueError("n must be a whole number from 1 to 10")
        if isinstance(value, str) and re.fullmatch(r"\s*\d{1,3}\s*", value):
            return int(value)
        return value

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value):
        # PostgreSQL text cannot hold NUL: refuse it here, not as a 500 at the INSERT.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("callback_url")
    @classmethod
    def _callable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                outbound.check_url(value)
            except outbound.UnsafeUrl as error:
                raise ValueError(error.message) from None
        return value

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be empty")
        return value


class ImageGenerationRequest(ImageRequestFields):
    """POST /v1/images/generations and /v1/async/images/generations (JSON)."""


class ImageEditRequest(ImageRequestFields):
    """POST /v1/images/edits and /v1/async/images/edits (multipart/form-data). Files:
    ``image`` (one), ``image[]`` (repeated) or ``image[0]``, ``image[1]``…; optional ``mask``."""


class ImageData(BaseModel):
    url: str | None = Field(None, description="Signed link to Pixdash's copy; expires")
    b64_json: str | None = None
    revised_prompt: str | None = None


class Usage(BaseModel):
    images: int
    credits: str = Field(description="Credits charged, a decimal string")


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageData]
    id: str
    model: str
    usage: Usage
    size: str | None = None
    output_format: str | None = None
    demo: bool = Field(False, description="Rendered by the offline renderer in demo mode")


class ErrorObject(BaseModel):
    message: str
    type: str
    param: str | None
    code: str
    request_id: str | None


class ErrorResponse(BaseModel):
    error: ErrorObject


class TaskObject(BaseModel):
    id: str
    object: Literal["image.task"] = "image.task"
    status: Literal["submitted", "processing", "completed", "failed", "canceled"]
    progress: int
    created_at: int
    model: str
    result: ImagesResponse | None = None
    error: ErrorObject | None = None
    usage: Usage | None = None


class ModelCapabilities(BaseModel):
    generate: bool
    edit: bool
    max_reference_images: int
    aspect_ratios: dict[str, str] = Field(description="Aspect ratio → output size")


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    display_name: str
    description: str
    aliases: list[str]
    credits_per_image: str
    capabilities: ModelCapabilities
    availability: Literal["available", "demo", "unavailable"]


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class TaskList(BaseModel):
    """GET /v1/tasks: newest first; pass ``last_id`` as ``after`` for the next page."""

    object: Literal["list"] = "list"
    data: list[TaskObject]
    has_more: bool
    first_id: str | None
    last_id: str | None


class QuoteObject(BaseModel):
    """POST /v1/images/quote: what a generation with this body would hold right now."""

    object: Literal["image.quote"] = "image.quote"
    model: str = Field(description="The model that would make the images")
    requested_model: str
    n: int
    credits_per_image: str = Field(description="The serving model's price, a decimal string")
    credits: str = Field(description="The cost if every image is delivered")
    hold: str = Field(
        description="What submitting holds: n × the highest price of the fallback chain"
    )
    allowed: bool
    reasons: list[
        Literal[
            "insufficient_credits",
            "key_limit",
            "member_cap",
            "model_not_allowed",
            "end_user_required",
        ]
    ] = Field(description="Why a submission would be refused now; empty when allowed")
    demo: bool = Field(False, description="Would be rendered by the offline renderer")


class ImageReference(BaseModel):
    """An input image of a JSON edit: a ``data:`` URL (base64) or an https URL to fetch."""

    model_config = ConfigDict(extra="ignore")

    image_url: str = Field(
        min_length=1,
        max_length=30_000_000,
        pattern=r"^(data:|https?://)",
        description="data:image/png;base64,… or https://…",
    )


class ImageEditJsonRequest(ImageRequestFields):
    """POST /v1/images/edits and /v1/async/images/edits sent as application/json: images by
    data URL or https URL (fetched under the same rules as webhooks, size-capped)."""

    images: list[ImageReference] = Field(min_length=1, max_length=16)
    mask: ImageReference | None = None


class UsageRow(BaseModel):
    day: str | None = Field(description="YYYY-MM-DD, when grouped by day")
    model: str | None = Field(description="The model that made the images, when grouped by it")
    key: str | None = Field(description="The key's prefix, e.g. pd_live_AbCd1234…")
    key_name: str | None
    user: str | None = Field(description="The end user (the requests' user field)")
    generations: int
    images: int
    credits: str = Field(description="Credits charged, a decimal string")


class UsageList(BaseModel):
    """GET /v1/usage: settled charges from the daily rollup, the numbers the usage page
    and its CSV show. Fields not grouped by are null."""

    object: Literal["list"] = "list"
    start: str
    end: str
    group_by: list[Literal["day", "model", "key", "user"]]
    data: list[UsageRow]


class WebhookSecret(BaseModel):
    key: str = Field(description="whsec_…: verifies deliveries to your tasks' callback_url")
