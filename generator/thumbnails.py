"""Thumbnails made when first needed.

A worker makes an image's thumbnail as it delivers it; a sync API request does not (a
WebP of a megapixel image costs ~35–65 ms of CPU, on the request's critical path and on
the process serving every other request). Such an image gets its thumbnail the first
time a page shows it, here, once: two viewers racing both render, one name is kept.
"""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generator import images as imaging
from generator.models import OutputImage


def ensure_thumbnail(output: OutputImage) -> None:
    if output.thumbnail:
        return
    with output.file.open("rb") as handle:
        data = handle.read()
    stem = output.file.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    name = default_storage.save(
        f"thumbs/{output.team_id}/{stem}.webp", ContentFile(imaging.make_thumbnail(data))
    )
    if OutputImage.objects.filter(pk=output.pk, thumbnail="").update(thumbnail=name):
        output.thumbnail = name
        return
    default_storage.delete(name)  # another viewer made it first
    output.refresh_from_db(fields=["thumbnail"])
