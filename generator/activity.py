"""The activity log's read side: every generation of a team, browser and API, newest
first, filterable by API key, status and source, in keyset pages on the
(team, -created_at, -id) index (see gallery.py for why not OFFSET)."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from generator.models import Generation, Source, Status
from pixdash.accounts.models import Team, User
from pixdash.core.keyset import row_compare

PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    key: int | None = None
    status: str = ""
    source: str = ""


def visible(team: Team, filters: Filters, *, member: User | None = None) -> QuerySet[Generation]:
    """The team's generations; with ``member``, only theirs: the jobs they started and
    those of the API keys they created (as on the billing pages)."""
    found = Generation.objects.filter(team=team)
    if member is not None:
        found = found.filter(Q(user=member) | Q(api_key__created_by=member))
    if filters.key:
        found = found.filter(api_key_id=filters.key)
    if filters.status in Status.values:
        found = found.filter(status=filters.status)
    if filters.source in Source.values:
        found = found.filter(source=filters.source)
    return found.order_by("-created_at", "-id")


def page(
    team: Team,
    filters: Filters,
    *,
    member: User | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> tuple[list[Generation], int | None]:
    """One page of generations older than generation ``after``, and the next cursor."""
    found = visible(team, filters, member=member).select_related("image_model", "user", "api_key")
    if after is not None:
        position = Generation.objects.filter(team=team, pk=after).values_list("created_at", "pk")
        position = position.first()
        if position is None:
            return [], None
        found = found.filter(row_compare(Generation, "<", *position))
    rows = list(found[: size + 1])
    return rows[:size], (rows[size - 1].pk if len(rows) > size else None)
