"""The team gallery's read side: filtered images in newest-first keyset order.

Pages and prev/next use a row-value comparison ``(created_at, id) < (%s, %s)`` against
the ``(team, -created_at, -id)`` index, never OFFSET: measured on 100k images, OFFSET
cost 52 ms for the last page, and Django's ``Q(a<x) | Q(a=x, id<y)`` form 37 ms, while the
row value stays under a millisecond at any depth (see bench/bench_gallery.py). The cursor
is an image id; its (created_at, id) is read back inside the team, so a foreign id simply
finds nothing.
"""

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from generator.models import OutputImage, Source
from pixdash.accounts.models import Team
from pixdash.core.keyset import row_compare

PAGE_SIZE = 48


@dataclass(frozen=True)
class Filters:
    q: str = ""
    model: str = ""
    member: int | None = None
    source: str = ""
    since: object = None  # date
    until: object = None  # date
    favourites: bool = False


def visible(team: Team, filters: Filters | None = None) -> QuerySet[OutputImage]:
    filters = filters or Filters()
    images = OutputImage.objects.filter(team=team, deleted_at__isnull=True)
    if filters.favourites:
        images = images.filter(favourite=True)
    if filters.model:
        images = images.filter(generation__image_model__public_id=filters.model)
    if filters.member:
        images = images.filter(generation__user_id=filters.member)
    if filters.source in (Source.UI, Source.API):
        images = images.filter(generation__source=filters.source)
    if filters.since:
        images = images.filter(created_at__gte=_day_start(filters.since))
    if filters.until:
        images = images.filter(created_at__lt=_day_start(filters.until) + timedelta(days=1))
    if filters.q:
        images = images.filter(generation__prompt__icontains=filters.q)
    return images.order_by("-created_at", "-id")


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _row_compare(operator: str, created_at: datetime, pk: int):
    return row_compare(OutputImage, operator, created_at, pk)


def _position(team: Team, pk: int | None) -> tuple[datetime, int] | None:
    if pk is None:
        return None
    created = OutputImage.objects.filter(team=team, pk=pk).values_list("created_at", flat=True)
    created_at = created.first()
    return (created_at, pk) if created_at is not None else None


def page(
    team: Team, filters: Filters, *, after: int | None = None, size: int | None = None
) -> tuple[list[OutputImage], int | None]:
    """One page of images older than image ``after``, and the cursor for the next page."""
    size = size or PAGE_SIZE
    # Each card shows the job's model and author: joined here, or it is a query per card.
    images = visible(team, filters).select_related("generation__image_model", "generation__user")
    position = _position(team, after)
    if after is not None and position is None:
        return [], None
    if position is not None:
        images = images.filter(_row_compare("<", *position))
    rows = list(images[: size + 1])
    return rows[:size], (rows[size - 1].pk if len(rows) > size else None)


def neighbours(team: Team, filters: Filters, image: OutputImage):
    """(newer, older) images around ``image`` in the gallery's order and filters, in ONE
    query: each side is an index-ordered ``LIMIT 1`` subquery, and the two ids are fetched
    together (``id IN (SELECT (newer) UNION ALL SELECT (older))``)."""
    images = visible(team, filters)
    newer = (
        images.filter(_row_compare(">", image.created_at, image.pk))
        .order_by("created_at", "id")
        .values("pk")[:1]
    )
    older = images.filter(_row_compare("<", image.created_at, image.pk)).values("pk")[:1]
    newer_sql, newer_params = newer.query.sql_with_params()
    older_sql, older_params = older.query.sql_with_params()
    # Each subquery names its own table, which SQL resolves to the innermost FROM, so the
    # row-value comparison inside stays correct when nested.
    ids = RawSQL(
        f"SELECT ({newer_sql}) UNION ALL SELECT ({older_sql})", (*newer_params, *older_params)
    )
    found = list(OutputImage.objects.filter(pk__in=ids))
    position = (image.created_at, image.pk)
    newer_image = next((i for i in found if (i.created_at, i.pk) > position), None)
    older_image = next((i for i in found if (i.created_at, i.pk) < position), None)
    return newer_image, older_image


# --- Image actions: the only writers of favourites and (soft) deletion ----------------
#
# Each takes the team and image ids and changes only that team's rows, so an id of another
# team's image changes nothing. Conditional UPDATEs: a double click or a bulk action over
# images already in that state is a no-op. They return how many images changed.


def favourite(*, team: Team, ids: list[int], on: bool = True) -> int:
    images = OutputImage.objects.filter(team=team, pk__in=ids, deleted_at__isnull=True)
    return images.exclude(favourite=on).update(favourite=on)


def delete(*, team: Team, ids: list[int]) -> int:
    """Hide images from every page; files stay, so ``restore`` can undo it."""
    images = OutputImage.objects.filter(team=team, pk__in=ids, deleted_at__isnull=True)
    return images.update(deleted_at=timezone.now())


def restore(*, team: Team, ids: list[int]) -> int:
    """Undo a delete; images already purged (their files removed) stay deleted."""
    images = OutputImage.objects.filter(
        team=team, pk__in=ids, deleted_at__isnull=False, purged_at__isnull=True
    )
    return images.update(deleted_at=None)


MAX_ZIP_IMAGES = 200


class _Drain:
    """A write-only file for zipfile that hands back what was written so far, so an
    archive streams image by image instead of being built in memory."""

    def __init__(self):
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def zip_originals(*, team: Team, ids: list[int]) -> Iterator[bytes]:
    """The originals of the team's images ``ids`` as a zip archive, streamed. Names come
    from the job and the image's place in it, never from anything a user typed. Images
    are already compressed: stored, not deflated."""
    images = visible(team).filter(pk__in=ids[:MAX_ZIP_IMAGES]).select_related("generation")
    drain = _Drain()
    with zipfile.ZipFile(drain, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in images:
            extension = image.file.name.rsplit(".", 1)[-1]
            name = f"{image.generation}-{image.index}.{extension}"
            with image.file.open("rb") as handle, archive.open(name, "w") as member:
                member.write(handle.read())
            yield drain.take()
    yield drain.take()
