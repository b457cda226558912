"""What the generator pages share: the team-scoped lookups (another team's ids answer
404), and small parsing helpers."""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404

from generator import images as imaging
from generator.models import Generation, OutputImage


def generation_for_team(request, pk: int) -> Generation:
    return get_object_or_404(
        Generation.objects.select_related("image_model", "user", "api_key"),
        team=request.team,
        pk=pk,
    )


def image_for_team(request, pk: int, *, deleted: bool = False) -> OutputImage:
    images = OutputImage.objects.select_related("generation__image_model", "generation__user")
    # Purged images (files removed after the undo window) can no longer be restored.
    return get_object_or_404(
        images, team=request.team, pk=pk, deleted_at__isnull=not deleted, purged_at__isnull=True
    )


def as_int(value, default: int = 0) -> int:
    """An integer from a query string, or ``default`` for anything else (never a 500)."""
    text = str(value or "")
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
        return default
    return int(text)


def ids_from(values: list[str], *, limit: int = 500) -> list[int]:
    """Positive ids from a list of strings (checkboxes, repeated query parameters)."""
    return [pk for pk in (as_int(v) for v in values[:limit]) if pk > 0]


def api_base_url(request) -> str:
    return f"{request.scheme}://{request.get_host()}/v1"


def reference_placeholders(count: int) -> tuple[imaging.UploadedImage, ...]:
    """Stand-ins for ``count`` reference images, for pricing. quote() prices an edit by how
    many references it has (a fallback that cannot take them is not held for) and never
    reads them, so the cost line and the compare page send only the count."""
    blank = imaging.UploadedImage(data=b"", width=1, height=1, sha256="")
    return (blank,) * min(max(count, 0), 16)


def serve_stored(stored, *, content_type: str) -> HttpResponse:
    """A stored image the page may show (a job's reference image), read whole like the
    gallery's images, with its type fixed and sniffing off."""
    if not stored:
        raise Http404("This image is no longer kept.")
    try:
        with stored.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("The image file is missing.") from None
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = f"private, max-age={settings.PIXDASH_MEDIA_URL_TTL}"
    return response
