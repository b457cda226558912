"""Walk the project's URL patterns, so whole-site tests (CSRF, tenancy) notice new URLs
instead of silently covering fewer of them."""

import re
import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import (
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
)
from django.urls.resolvers import RoutePattern

# A placeholder that no test object has, per converter, for probing a URL.
_PLACEHOLDERS = {
    IntConverter: 2_000_000_000,
    StringConverter: "probe",
    SlugConverter: "probe",
    PathConverter: "probe",
    UUIDConverter: uuid.UUID(int=0),
}
_PARAMETER = re.compile(r"<(?:[^>:]+:)?(?P<keyword>\w+)>")


@dataclass(frozen=True)
class Route:
    name: str  # namespaced ("admin:index"), or "" for an unnamed pattern
    route: str  # the pattern as written, e.g. "team/members/<int:pk>/role/"
    converters: dict  # keyword -> converter instance
    is_route_pattern: bool  # path() all the way down, so url() can fill it in

    @property
    def label(self) -> str:
        """How tests key this URL: its name, or its route when it has none."""
        return self.name or self.route

    @property
    def int_kwargs(self) -> list[str]:
        return [kw for kw, conv in self.converters.items() if isinstance(conv, IntConverter)]

    def url(self, **kwargs) -> str:
        """The URL with ``kwargs``, placeholders for the rest."""
        assert self.is_route_pattern, f"{self.route}: re_path() URLs need a case of their own"

        def fill(match: re.Match) -> str:
            keyword = match["keyword"]
            converter = self.converters[keyword]
            if keyword in kwargs:
                return converter.to_url(kwargs[keyword])
            placeholder = _PLACEHOLDERS.get(type(converter))
            assert placeholder is not None, f"{self.route}: no placeholder for {converter!r}"
            return converter.to_url(placeholder)

        return "/" + _PARAMETER.sub(fill, self.route)


def _walk(patterns, prefix: str, namespace: str, converters: dict, is_route: bool):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        merged = {**converters, **entry.pattern.converters}
        both_route = is_route and isinstance(entry.pattern, RoutePattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, route, inner, merged, both_route)
        elif isinstance(entry, URLPattern):
            name = namespace + entry.name if entry.name else ""
            yield Route(name=name, route=route, converters=merged, is_route_pattern=both_route)


def routes(*, exclude_prefixes: tuple[str, ...] = ()) -> list[Route]:
    """Every URL pattern of the root URLconf, minus those under ``exclude_prefixes``."""
    return [
        route
        for route in _walk(get_resolver().url_patterns, "", "", {}, True)
        if not route.route.lstrip("^").startswith(exclude_prefixes)
    ]
