"""Signed, expiring links to stored images.

A link carries the image id, which file (original or thumbnail) and when it was signed;
tampering with any of them breaks the signature, and links older than
PIXDASH_MEDIA_URL_TTL are refused. Anyone holding a fresh link may fetch the image, which
is what API clients and <img> tags need.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse
from django.views.decorators.http import require_GET

from generator.models import OutputImage

_signer = signing.TimestampSigner(salt="pixdash.media.v1")
_ORIGINAL, _THUMBNAIL = "o", "t"


def signed_path(output: OutputImage, *, thumbnail: bool = False) -> str:
    token = _signer.sign(f"{output.pk}.{_THUMBNAIL if thumbnail else _ORIGINAL}")
    return reverse("media_signed", args=[token])


def signed_url(request: HttpRequest, output: OutputImage, *, thumbnail: bool = False) -> str:
    return request.build_absolute_uri(signed_path(output, thumbnail=thumbnail))


@require_GET
def media_signed(request: HttpRequest, token: str):
    try:
        value = _signer.unsign(token, max_age=settings.PIXDASH_MEDIA_URL_TTL)
    except signing.SignatureExpired:
        return HttpResponseForbidden("This image link has expired. Ask the API for a new one.")
    except signing.BadSignature:
        raise Http404("No such image.") from None
    pk, _, which = value.partition(".")
    # Validly signed but not ours (another format, a SECRET_KEY_FALLBACKS era): a 404,
    # not a ValueError from the query.
    if not (pk.isascii() and pk.isdigit()) or which not in (_ORIGINAL, _THUMBNAIL):
        raise Http404("No such image.")
    output = OutputImage.objects.filter(pk=int(pk)).first()
    if output is None:
        raise Http404("No such image.")
    return serve_image(output, thumbnail=which == _THUMBNAIL)


def serve_image(output: OutputImage, *, thumbnail: bool) -> HttpResponse:
    """Send a stored image with its sniffed type; the browser must not guess another.

    Images are a few MB at most, so they are read whole: a streamed FileResponse would be
    iterated synchronously under ASGI, which costs a thread hop per chunk.
    """
    stored = output.thumbnail if thumbnail else output.file
    try:
        with stored.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("The image file is missing.") from None
    content_type = "image/webp" if thumbnail else output.mime_type
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = f"private, max-age={settings.PIXDASH_MEDIA_URL_TTL}"
    response["Content-Disposition"] = (
        f'inline; filename="{output.generation}-{output.index}.{stored.name.rsplit(".", 1)[-1]}"'
    )
    return response


@require_GET
@login_required
def media_member(request: HttpRequest, pk: int, which: str):
    """An image for a signed-in member of the team that owns it; 404 for anyone else.

    Not limited to the current team: a member of two teams may open a link from either.
    ``?download=1`` asks the browser to save the original instead of showing it.
    """
    output = (
        OutputImage.objects.filter(pk=pk, team__memberships__user=request.user)
        .select_related("generation")
        .first()
    )
    if output is None:
        raise Http404("No such image.")
    response = serve_image(output, thumbnail=which == "thumbnail")
    if which == "original" and request.GET.get("download"):
        response["Content-Disposition"] = response["Content-Disposition"].replace(
            "inline;", "attachment;", 1
        )
    return response
