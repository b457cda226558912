"""The team gallery, an image's page, and what can be done to images: favourite, delete
(undoable), restore, one at a time or several at once, and download as a zip.

The writes are generator.gallery's; these views find the team's images, call it, and
answer htmx with the piece of page that changed.
"""

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from generator import catalog, gallery, snippets
from generator.forms import GalleryFilterForm
from generator.models import OutputImage
from generator.views.common import api_base_url, as_int, ids_from, image_for_team
from generator.views.jobs import compare_choices
from pixdash.accounts.access import team_required
from pixdash.accounts.models import User
from pixdash.accounts.redirects import safe_next

_BULK_ACTIONS = {"favourite", "unfavourite", "delete"}


def _filters(request) -> tuple[GalleryFilterForm, gallery.Filters]:
    members = User.objects.filter(memberships__team=request.team).order_by("name", "email")
    form = GalleryFilterForm(request.GET, models=catalog.enabled_models(), members=members)
    if not form.is_valid():
        return form, gallery.Filters()
    data = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
    return form, gallery.Filters(**data)


def _filter_query(request) -> str:
    keep = {k: v for k, v in request.GET.items() if k not in ("after", "deleted") and v}
    return urlencode(keep)


@require_GET
@team_required
def gallery_page(request):
    form, filters = _filters(request)
    after = as_int(request.GET.get("after")) or None
    rows, cursor = gallery.page(request.team, filters, after=after)
    context = {
        "form": form,
        "images": rows,
        "cursor": cursor,
        "query": _filter_query(request),
        "filtered": filters != gallery.Filters(),
        "billing_url": reverse("billing", args=[request.team.slug]),
        "undo": _undo_target(request),
        "undo_many": request.GET.get("deleted_many") and request.session.get(_deleted_key(request)),
    }
    # Fragments only for htmx's own swaps; a history restore (Back) gets the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    if partial and after:
        return render(request, "generator/gallery.html#gallery-page", context)
    if partial and request.htmx.target == "gallery-results":
        return render(request, "generator/gallery.html#gallery-results", context)
    return render(request, "generator/gallery.html", context)


def _deleted_key(request) -> str:
    return f"pixdash.deleted.{request.team.pk}"


def _undo_target(request) -> OutputImage | None:
    pk = as_int(request.GET.get("deleted"))
    if pk <= 0:
        return None
    return OutputImage.objects.filter(team=request.team, pk=pk, deleted_at__isnull=False).first()


@require_GET
@team_required
def image_detail(request, pk: int):
    image = image_for_team(request, pk)
    _form, filters = _filters(request)
    newer, older = gallery.neighbours(request.team, filters, image)
    generation = image.generation
    context = {
        "image": image,
        "job": generation,
        "newer": newer,
        "older": older,
        "query": _filter_query(request),
        "edits": OutputImage.objects.filter(
            team=request.team, deleted_at__isnull=True, generation__edited_from=image
        ).select_related("generation")[:12],
        "snippets": snippets.for_generation(api_base_url(request), generation),
        "compare_choices": compare_choices(request, generation),
    }
    return render(request, "generator/image.html", context)


@require_POST
@team_required
def image_favourite(request, pk: int):
    image = image_for_team(request, pk)
    gallery.favourite(team=request.team, ids=[image.pk], on=not image.favourite)
    image.refresh_from_db(fields=["favourite"])
    if request.htmx:
        return render(request, "generator/gallery.html#favourite-button", {"image": image})
    return redirect(safe_next(request) or reverse("image_detail", args=[request.team.slug, pk]))


@require_POST
@team_required
def image_delete(request, pk: int):
    image = image_for_team(request, pk)
    gallery.delete(team=request.team, ids=[image.pk])
    if request.htmx:
        return render(request, "generator/gallery.html#deleted-tile", {"image": image})
    return redirect(reverse("gallery", args=[request.team.slug], query={"deleted": image.pk}))


@require_POST
@team_required
def image_restore(request, pk: int):
    image = image_for_team(request, pk, deleted=True)
    gallery.restore(team=request.team, ids=[image.pk])
    image.refresh_from_db(fields=["deleted_at"])
    if request.htmx:
        return render(request, "generator/gallery.html#tile", {"image": image})
    messages.success(request, "Image restored.")
    return redirect("image_detail", request.team.slug, image.pk)


@require_POST
@team_required
def images_bulk(request):
    """Favourite, unfavourite or delete the selected images (another team's ids change
    nothing). Deleting several is undone from the gallery's toast, like one."""
    action = request.POST.get("action", "")
    ids = ids_from(request.POST.getlist("ids"))
    gallery_url = reverse("gallery", args=[request.team.slug])
    if action not in _BULK_ACTIONS or not ids:
        messages.error(request, "Select some images and an action.")
        return redirect(safe_next(request) or gallery_url)
    if action == "delete":
        gallery.delete(team=request.team, ids=ids)
        request.session[_deleted_key(request)] = ids
        return redirect(f"{gallery_url}?{urlencode({'deleted_many': len(ids)})}")
    changed = gallery.favourite(team=request.team, ids=ids, on=action == "favourite")
    verb = "added to" if action == "favourite" else "removed from"
    messages.success(request, f"{changed} image{'s' if changed != 1 else ''} {verb} favourites.")
    return redirect(safe_next(request) or gallery_url)


@require_POST
@team_required
def images_restore_many(request):
    """Undo the last bulk delete."""
    ids = ids_from([str(pk) for pk in request.session.pop(_deleted_key(request), [])])
    restored = gallery.restore(team=request.team, ids=ids)
    messages.success(request, f"{restored} image{'s' if restored != 1 else ''} restored.")
    return redirect("gallery", request.team.slug)


@require_GET
@team_required
def images_zip(request):
    """The selected images' originals as one zip (at most gallery.MAX_ZIP_IMAGES)."""
    ids = ids_from(request.GET.getlist("ids"), limit=gallery.MAX_ZIP_IMAGES)
    response = StreamingHttpResponse(
        gallery.zip_originals(team=request.team, ids=ids), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{request.team.slug}-images.zip"'
    return response
