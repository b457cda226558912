"""Signed, expiring links to stored images.

On local disk (the default), a link carries the image id, which file (original or
thumbnail) and when it was signed; tampering with any of them breaks the signature, and
links older than PIXDASH_MEDIA_URL_TTL are refused. Anyone holding a fresh link may fetch
the image, which is what API clients and <img> tags need.

On S3-compatible storage (PIXDASH_S3_BUCKET), the same promise is kept by the bucket:
API answers carry presigned URLs that expire after PIXDASH_MEDIA_URL_TTL, and the
dashboard's member-only paths check membership, then redirect to such a URL, so image
bytes never pass through Django.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
)
from django.urls import reverse
from django.views.decorators.http import require_GET

from generator.models import OutputImage
from generator.thumbnails import ensure_thumbnail

_signer = signing.TimestampSigner(salt="pixdash.media.v1")
_ORIGINAL, _THUMBNAIL = "o", "t"


def signed_path(output: OutputImage, *, thumbnail: bool = False) -> str:
    token = _signer.sign(f"{output.pk}.{_THUMBNAIL if thumbnail else _ORIGINAL}")
    return reverse("media_signed", args=[token])


def signed_url(request: HttpRequest, output: OutputImage, *, thumbnail: bool = False) -> str:
    """The link an API answer carries: presigned to the bucket, or our own signed path."""
    if settings.PIXDASH_S3_BUCKET:
        return presigned_url(output, thumbnail=thumbnail)
    return request.build_absolute_uri(signed_path(output, thumbnail=thumbnail))


def presigned_url(output: OutputImage, *, thumbnail: bool = False, download: bool = False) -> str:
    """A URL straight to the bucket, valid for PIXDASH_MEDIA_URL_TTL; signing is local
    computation (no request to S3). The bucket answers with our content type and file
    name, and nosniff cannot be added there, so the type is set explicitly."""
    stored = output.thumbnail if thumbnail else output.file
    disposition = "attachment" if download else "inline"
    return stored.storage.url(
        stored.name,
        parameters={
            "ResponseContentType": "image/webp" if thumbnail else output.mime_type,
            "ResponseContentDisposition": f'{disposition}; filename="{_file_name(output, stored)}"',
        },
    )


def _file_name(output: OutputImage, stored) -> str:
    return f"{output.generation}-{output.index}.{stored.name.rsplit('.', 1)[-1]}"


def _redirect_to_bucket(output: OutputImage, *, thumbnail: bool, download: bool = False):
    if thumbnail:
        ensure_thumbnail(output)
    response = HttpResponseRedirect(presigned_url(output, thumbnail=thumbnail, download=download))
    # The presigned URL expires; a browser must ask us again rather than cache the hop.
    response["Cache-Control"] = "private, no-store"
    return response


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
    output = _stored_images().filter(pk=int(pk)).first()
    if output is None:
        raise Http404("No such image.")
    if settings.PIXDASH_S3_BUCKET:
        return _redirect_to_bucket(output, thumbnail=which == _THUMBNAIL)
    return serve_image(output, thumbnail=which == _THUMBNAIL)


def _stored_images():
    """Images that may be served: deleted ones (restorable for the undo window, then
    purged) and purged ones answer 404 on every URL."""
    return OutputImage.objects.filter(
        deleted_at__isnull=True, purged_at__isnull=True
    ).select_related("generation")


def serve_image(output: OutputImage, *, thumbnail: bool) -> HttpResponse:
    """Send a stored image with its sniffed type; the browser must not guess another.

    Images are a few MB at most, so they are read whole: a streamed FileResponse would be
    iterated synchronously under ASGI, which costs a thread hop per chunk.
    """
    try:
        if thumbnail:
            ensure_thumbnail(output)
        stored = output.thumbnail if thumbnail else output.file
        with stored.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("The image file is missing.") from None
    content_type = "image/webp" if thumbnail else output.mime_type
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = f"private, max-age={settings.PIXDASH_MEDIA_URL_TTL}"
    response["Content-Disposition"] = f'inline; filename="{_file_name(output, stored)}"'
    return response


@require_GET
@login_required
def media_member(request: HttpRequest, pk: int, which: str):
    """An image for a signed-in member of the team that owns it; 404 for anyone else.

    Not limited to the current team: a member of two teams may open a link from either.
    ``?download=1`` asks the browser to save the original instead of showing it.
    """
    output = _stored_images().filter(pk=pk, team__memberships__user=request.user).first()
    if output is None:
        raise Http404("No such image.")
    download = which == "original" and bool(request.GET.get("download"))
    if settings.PIXDASH_S3_BUCKET:
        return _redirect_to_bucket(output, thumbnail=which == "thumbnail", download=download)
    response = serve_image(output, thumbnail=which == "thumbnail")
    if download:
        response["Content-Disposition"] = response["Content-Disposition"].replace(
            "inline;", "attachment;", 1
        )
    return response
