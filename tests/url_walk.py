"""Walk the project's URL patterns, so whole-site tests (CSRF, tenancy) notice new URLs
instead of silently covering fewer of them."""

import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import (
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
)

# A placeholder that no test object has, per converter, for probing a URL.
_PLACEHOLDERS = {
    IntConverter: 2_000_000_000,
    StringConverter: "probe",
    SlugConverter: "probe",
    PathConverter: "probe",
    UUIDConverter: uuid.UUID(int=0),
}


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, ready for reverse()
    route: str  # the pattern as written, e.g. "team/members/<int:pk>/role/"
    converters: dict  # keyword -> converter instance

    @property
    def int_kwargs(self) -> list[str]:
        return [kw for kw, conv in self.converters.items() if isinstance(conv, IntConverter)]

    def url(self, **kwargs) -> str:
        """The URL with ``kwargs``, placeholders for the rest."""
        values = {}
        for keyword, converter in self.converters.items():
            if keyword in kwargs:
                values[keyword] = kwargs[keyword]
            elif type(converter) in _PLACEHOLDERS:
                values[keyword] = _PLACEHOLDERS[type(converter)]
            else:
                raise AssertionError(f"{self.route}: no placeholder for {converter!r}")
        return reverse(self.name, kwargs=values)


def _walk(patterns, prefix: str, namespace: str, converters: dict):
    for entry in patterns:
        route = prefix + str(entry.pattern).lstrip("^").rstrip("$")
        merged = {**converters, **entry.pattern.converters}
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, route, inner, merged)
        elif isinstance(entry, URLPattern):
            name = namespace + entry.name if entry.name else ""
            yield Route(name=name, route=route, converters=merged)


def routes(*, exclude_prefixes: tuple[str, ...] = ()) -> list[Route]:
    """Every URL pattern of the root URLconf, minus those under ``exclude_prefixes``."""
    found = [
        route
        for route in _walk(get_resolver().url_patterns, "", "", {})
        if not route.route.startswith(exclude_prefixes)
    ]
    unnamed = [route.route for route in found if not route.name]
    assert not unnamed, f"Name these URL patterns so tests can cover them: {unnamed}"
    return found
