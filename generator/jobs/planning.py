"""Planning a generation before anything is held: which model serves it, at what size, and
what it costs. ``plan()`` is the one place a price is computed: submit() holds exactly what
it says, and quote() (the generator page's cost line, the API's quote endpoint) shows it.

At run time ``fallback_targets()`` decides which opt-in fallback models may still make the
images, within what was held.
"""

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass, fields
from decimal import Decimal

from django.db import transaction

from billing import ledger
from generator import catalog
from generator import images as imaging
from generator.jobs.errors import JobError, ModelNotFound, ModelUnavailable, NotPermitted
from generator.models import Generation, ImageModel, InputImage
from generator.providers import registry
from pixdash.accounts.models import ApiKey, Team, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSpec:
    """A validated request, whichever door it came in by."""

    model: str
    prompt: str
    n: int = 1
    size: str | None = None
    quality: str | None = None
    output_format: str = "png"
    response_format: str = "url"
    background: str | None = None
    end_user: str | None = None
    callback_url: str | None = None  # where webhooks announce the finished task
    images: tuple[imaging.UploadedImage, ...] = ()
    mask: imaging.UploadedImage | None = None

    @property
    def kind(self) -> str:
        return "edit" if self.images else "generate"

    def fingerprint(self) -> str:
        """A digest of everything that shapes the result, for Idempotency-Key replays."""
        shaping = asdict(self)
        shaping["images"] = [image.sha256 for image in self.images]
        shaping["mask"] = self.mask.sha256 if self.mask else None
        shaping["kind"] = self.kind
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Plan:
    """How a request will run: the model chosen now (the requested one, or the first
    available fallback), its route, the aspect ratio, and the credits to hold."""

    requested: ImageModel
    image_model: ImageModel
    route: registry.Route
    aspect_ratio: str
    size: str | None  # as asked
    n: int
    unit_hold: Decimal  # the highest price of the chain from image_model on

    @property
    def credits_per_image(self) -> Decimal:
        return self.image_model.credits_per_image

    @property
    def credits(self) -> Decimal:
        """What the job costs if every image is delivered by the chosen model."""
        return self.credits_per_image * self.n

    @property
    def hold(self) -> Decimal:
        """What submit() holds: enough for a fallback at run time to stay within it."""
        return self.unit_hold * self.n

    @property
    def ratio_mapped(self) -> bool:
        """Whether the size asked for was mapped to another ratio the model supports
        (16:9 asked of a model without it), so pages can say so."""
        wanted = catalog.parse_size(self.size)
        if wanted is None:
            return False
        width, height = (int(part) for part in self.aspect_ratio.split(":"))
        return abs(math.log(wanted) - math.log(width / height)) > 0.02


def plan(spec: GenerationSpec) -> Plan:
    """Validate the request against the catalog and price it. Raises JobError subclasses."""
    requested = _resolve_model(spec.model)
    aspect_ratio(requested, spec.size)  # a malformed size is refused whatever serves it
    _check_images(requested, spec)
    image_model, route, unit_hold = _route(requested, spec)
    return Plan(
        requested=requested,
        image_model=image_model,
        route=route,
        aspect_ratio=aspect_ratio(image_model, spec.size),
        size=spec.size,
        n=spec.n,
        unit_hold=unit_hold,
    )


@dataclass(frozen=True)
class Quote:
    plan: Plan
    allowed: bool
    # insufficient_credits, key_limit, member_cap, model_not_allowed, end_user_required
    reasons: tuple[str, ...]


def quote(
    *, team: Team, spec: GenerationSpec, api_key: ApiKey | None = None, user: User | None = None
) -> Quote:
    """What submitting ``spec`` would hold now, and whether it would be accepted. Raises
    JobError for a request that is invalid whoever sends it."""
    planned = plan(spec)
    reasons = []
    try:
        check_key_allows(api_key, planned.requested)
    except NotPermitted:
        reasons.append("model_not_allowed")
    try:
        check_end_user(api_key, spec)
    except JobError:
        reasons.append("end_user_required")
    if ledger.balance(team) < planned.hold:
        reasons.append("insufficient_credits")
    reasons += _limit_reasons(team=team, amount=planned.hold, api_key=api_key, user=user)
    return Quote(plan=planned, allowed=not reasons, reasons=tuple(reasons))


def _limit_reasons(*, team, amount, api_key, user) -> list[str]:
    reasons = []
    checks = [
        ("key_limit", lambda: ledger.check_key_limit(api_key=api_key, amount=amount)),
        (
            "member_cap",
            lambda: ledger.check_member_limit(team=team, user=user, api_key=api_key, amount=amount),
        ),
    ]
    for reason, check in checks:
        with transaction.atomic():  # the checks lock their rows; let go at once
            try:
                check()
            except ledger.SpendingLimitExceeded:
                reasons.append(reason)
    return reasons


def check_key_allows(api_key: ApiKey | None, image_model: ImageModel) -> None:
    if api_key and api_key.allowed_models:
        allowed = {name.lower() for name in api_key.allowed_models}
        if not allowed.intersection(image_model.names):
            raise NotPermitted(f"This API key may not use {image_model.public_id}.", param="model")


def check_end_user(api_key: ApiKey | None, spec: GenerationSpec) -> None:
    """A key may require the OpenAI ``user`` field, so usage can be told apart by the
    caller's own users."""
    if api_key and api_key.require_end_user and not (spec.end_user or "").strip():
        raise JobError(
            "This API key requires the 'user' field: an id for your end user.", param="user"
        )


def _resolve_model(name: str) -> ImageModel:
    image_model = catalog.resolve(name)
    if image_model is None:
        raise ModelNotFound(
            f"The model '{name}' does not exist. GET /v1/models lists the available ones.",
            param="model",
        )
    return image_model


def _route(
    requested: ImageModel, spec: GenerationSpec
) -> tuple[ImageModel, registry.Route, Decimal]:
    """The first model of the requested one's fallback chain whose provider is available,
    its route, and the per-image price to hold: the highest of the chain from that model
    on, so that a fallback at run time is covered (charged <= held) whichever model ends
    up making the images. Without fallbacks: the model, its route and its price."""
    chain = [requested] + [
        m
        for m in catalog.fallback_chain(requested)[1:]
        if can_serve(m, images=len(spec.images), mask=spec.mask is not None)
    ]
    first_error = None
    for position, candidate in enumerate(chain):
        try:
            route = registry.route(candidate)
        except registry.ProviderUnavailable as error:
            first_error = first_error or error
            continue
        if position:
            logger.warning("%s is unavailable; falling back to %s", requested, candidate)
        return candidate, route, max(m.credits_per_image for m in chain[position:])
    raise ModelUnavailable(str(first_error), param="model")


def can_serve(image_model: ImageModel, *, images: int, mask: bool) -> bool:
    """Whether a fallback model can take this request as it is (else it is skipped)."""
    if images:
        return image_model.supports_edit and images <= image_model.max_reference_images
    return image_model.supports_generate and not mask


def aspect_ratio(image_model: ImageModel, size: str | None) -> str:
    try:
        return catalog.nearest_ratio(image_model, size)
    except ValueError as error:
        raise JobError(str(error), param="size") from None


def _check_images(image_model: ImageModel, spec: GenerationSpec) -> None:
    if spec.images and not image_model.supports_edit:
        raise JobError(f"{image_model.public_id} cannot edit images.", param="model")
    if not spec.images and not image_model.supports_generate:
        raise JobError(f"{image_model.public_id} only edits images; send one.", param="image")
    if len(spec.images) > image_model.max_reference_images:
        raise JobError(
            f"{image_model.public_id} takes at most {image_model.max_reference_images} "
            f"reference images; {len(spec.images)} were sent.",
            param="image",
        )
    if spec.mask and not spec.images:
        raise JobError("A mask needs an image to apply to.", param="mask")


# --- Run time: which models may make a claimed job's images --------------------------


@dataclass(frozen=True)
class Target:
    """A model that may make a job's images: the one chosen at submit, then the opt-in
    fallbacks that are available now and fit within what was held."""

    image_model: ImageModel
    provider: str
    demo: bool
    upstream_model: str
    aspect_ratio: str
    width: int
    height: int
    unit_price: Decimal

    @classmethod
    def chosen_at_submit(cls, generation: Generation) -> "Target":
        return cls(**{name: getattr(generation, name) for name in cls.field_names()})

    @classmethod
    def field_names(cls) -> list[str]:
        """The target's fields, named as the Generation columns they are stored in."""
        return [f.name for f in fields(cls)]

    def as_generation_fields(self) -> dict:
        return {name: getattr(self, name) for name in self.field_names()}


def targets(
    generation: Generation, *, images: int | None = None, mask: bool | None = None
) -> list[Target]:
    """The models that may make the job's images, in order. ``images`` and ``mask`` say
    what the job was sent (read from its stored inputs when not given)."""
    first = Target.chosen_at_submit(generation)
    requested = catalog.resolve(generation.requested_model)
    if requested is None or not requested.fallback_models:
        return [first]
    chain = catalog.fallback_chain(requested)
    if generation.image_model not in chain:
        return [first]
    if images is None:
        images = generation.inputs.filter(role=InputImage.Role.IMAGE).count()
        mask = generation.inputs.filter(role=InputImage.Role.MASK).exists()
    ceiling = generation.credits_held / generation.n
    found = [first]
    for image_model in chain[chain.index(generation.image_model) + 1 :]:
        route = registry.real_route(image_model)
        if (
            route is None
            or image_model.credits_per_image > ceiling  # the chain got pricier since submit
            or not can_serve(image_model, images=images, mask=mask)
        ):
            continue
        ratio = catalog.nearest_ratio(image_model, generation.size)
        width, height = image_model.size_for(ratio)
        found.append(
            Target(
                image_model=image_model,
                provider=route.name,
                demo=False,
                upstream_model=image_model.upstream_model,
                aspect_ratio=ratio,
                width=width,
                height=height,
                unit_price=image_model.credits_per_image,
            )
        )
    return found
