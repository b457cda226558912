"""Which provider renders a catalog model.

Each model names its provider kind. A kind with no key configured is unavailable, unless
demo mode is on: then the offline renderer stands in and the job is marked ``demo`` so the
API and the UI can say so.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from generator.models import ImageModel, ProviderKind
from generator.providers.base import Provider


class ProviderUnavailable(Exception):
    """The model's provider is not configured and demo mode is off."""


@dataclass(frozen=True)
class Route:
    provider: Provider
    name: str  # what is recorded on the generation: "gemini", "local"
    demo: bool


def _local() -> Provider:
    from generator.providers.local import LocalRenderer

    return LocalRenderer()


def _gemini() -> Provider:
    from generator.providers.gemini import GeminiProvider

    return GeminiProvider(
        api_key=settings.PIXDASH_GEMINI_API_KEY, base_url=settings.PIXDASH_GEMINI_BASE_URL
    )


def _openai() -> Provider:
    from generator.providers.openai_compat import OpenAICompatProvider

    return OpenAICompatProvider(
        api_key=settings.PIXDASH_OPENAI_API_KEY, base_url=settings.PIXDASH_OPENAI_BASE_URL
    )


def _configured_factories() -> dict[str, Callable[[], Provider]]:
    """Provider kinds that can serve real requests with the current settings: a kind is
    configured when its key is set. A provider instance serves one job (its HTTP client
    lives on that job's event loop, see providers/http.py)."""
    factories: dict[str, Callable[[], Provider]] = {ProviderKind.LOCAL: _local}
    if settings.PIXDASH_GEMINI_API_KEY:
        factories[ProviderKind.GEMINI] = _gemini
    if settings.PIXDASH_OPENAI_API_KEY:
        factories[ProviderKind.OPENAI] = _openai
    return factories


# Tests may replace a kind's factory here (see tests/generator/conftest.py); production
# code never writes to it.
overrides: dict[str, Callable[[], Provider]] = {}


def route(image_model: ImageModel) -> Route:
    kind = image_model.provider
    if kind in overrides:
        return Route(provider=overrides[kind](), name=kind, demo=False)
    factory = _configured_factories().get(kind)
    if factory is not None:
        return Route(provider=factory(), name=kind, demo=False)
    if settings.PIXDASH_DEMO_MODE:
        return Route(provider=_local(), name=ProviderKind.LOCAL, demo=True)
    raise ProviderUnavailable(
        f"{image_model.public_id} is unavailable: its provider "
        f"({image_model.get_provider_display()}) is not configured on this server."
    )


def provider_named(name: str) -> Provider:
    """The provider recorded on a generation at submit time, for running it."""
    if name in overrides:
        return overrides[name]()
    factory = _configured_factories().get(name)
    if factory is None:
        raise ProviderUnavailable(f"Provider {name} is no longer configured on this server.")
    return factory()


def real_route(image_model: ImageModel) -> Route | None:
    """The model's real provider (not the demo stand-in), or None: run-time fallbacks only
    go to real providers, never to an offline picture billed as a real one."""
    try:
        chosen = route(image_model)
    except ProviderUnavailable:
        return None
    return None if chosen.demo else chosen


def availability(image_model: ImageModel) -> str:
    """ "available", "demo" (rendered offline) or "unavailable", for listings."""
    try:
        return "demo" if route(image_model).demo else "available"
    except ProviderUnavailable:
        return "unavailable"
