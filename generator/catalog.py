"""Finding models by public id or alias, and mapping a requested size to what a model renders.

The enabled models are read on every API request, so each process keeps them for
PIXDASH_CATALOG_TTL seconds: a change in the admin reaches the process that saved it at
once (saving invalidates) and every other process within the TTL, without a restart.
"""

import math
import re
import threading
import time

from django.conf import settings

from generator.models import ImageModel

_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")
_RATIO = re.compile(r"^(\d{1,3}):(\d{1,3})$")


_cached: tuple[float, list[ImageModel]] | None = None
_loading = threading.Lock()


def enabled_models() -> list[ImageModel]:
    """The enabled models, in catalog order. Shared between requests: do not modify them."""
    cached = _cached
    if cached is not None and time.monotonic() - cached[0] < settings.PIXDASH_CATALOG_TTL:
        return cached[1]
    with _loading:
        return _reload()


def _reload() -> list[ImageModel]:
    global _cached
    models = list(ImageModel.objects.filter(enabled=True))
    _cached = (time.monotonic(), models)
    return models


def invalidate() -> None:
    """Forget the cached catalog (called whenever a model is saved or deleted)."""
    global _cached
    _cached = None


def resolve(name: str) -> ImageModel | None:
    """The enabled model whose public id or alias is ``name`` (case-insensitive)."""
    wanted = name.strip().lower()
    for model in enabled_models():
        if wanted in model.names:
            return model
    return None


def parse_size(size: str | None) -> float | None:
    """The aspect ratio (width / height) a size asks for; None for "auto" or nothing.

    Raises ValueError for anything that is neither ``auto``, ``WxH`` nor ``W:H``.
    """
    if size is None or size.strip().lower() in ("", "auto"):
        return None
    text = size.strip().lower()
    match = _SIZE.match(text) or _RATIO.match(text)
    if not match:
        raise ValueError("size must be 'auto', WIDTHxHEIGHT (e.g. 1024x1024) or a ratio like 16:9")
    width, height = int(match.group(1)), int(match.group(2))
    if width == 0 or height == 0:
        raise ValueError("size needs a width and height above zero")
    return width / height


def nearest_ratio(model: ImageModel, size: str | None) -> str:
    """The model's supported aspect ratio closest to the requested one (on a log scale, so
    2:1 and 1:2 are equally far from 1:1)."""
    wanted = parse_size(size)
    if wanted is None:
        return model.default_aspect_ratio

    def distance(ratio: str) -> float:
        width, height = model.size_for(ratio)
        return abs(math.log(width / height) - math.log(wanted))

    return min(model.sizes, key=distance)


def fallback_chain(model: ImageModel) -> list[ImageModel]:
    """The model, then its opt-in fallbacks in order: enabled ones only, each once. Not
    transitive: a fallback's own fallbacks are not followed, so the chain (and the price
    held for it) is exactly what the operator listed on this model."""
    wanted = [name for name in model.fallback_models or [] if isinstance(name, str)]
    found = {m.public_id: m for m in enabled_models()}
    chain = [model]
    for name in wanted:
        candidate = found.get(name)
        if candidate is not None and candidate not in chain:
            chain.append(candidate)
    return chain
