"""The generator's side of billing receipts: a ledger reference → what it bought.

Registered with billing.receipts at app ready(), so billing renders receipts with
thumbnails without importing generator (dependencies point generator → billing).
"""

from django.db.models import OuterRef, Prefetch, Subquery

from billing.receipts import Receipt, ReceiptImage
from generator.media import signed_path
from generator.models import Generation, OutputImage
from pixdash.accounts.models import Team

# Purged images have no files left to show.
_KEPT = OutputImage.objects.filter(purged_at__isnull=True)


def lookup(reference: str, team: Team) -> Receipt | None:
    generation = (
        Generation.objects.filter(public_id=reference, team=team)
        .select_related("image_model")
        .prefetch_related(Prefetch("outputs", _KEPT.order_by("index"), to_attr="ordered"))
        .first()
    )
    return _receipt(generation) if generation is not None else None


def lookup_many(references: list[str], team: Team) -> dict[str, Receipt]:
    """Short receipts of the team's generations ``references`` for a statement page, in
    one query: the model's name and the first image (its thumbnail stands for the job)."""
    first = _KEPT.filter(generation=OuterRef("pk")).order_by("index")
    generations = (
        Generation.objects.filter(public_id__in=references, team=team)
        .select_related("image_model")
        .annotate(
            first_image=Subquery(first.values("pk")[:1]),
            first_width=Subquery(first.values("width")[:1]),
            first_height=Subquery(first.values("height")[:1]),
        )
    )
    found = {}
    for generation in generations:
        generation.ordered = []
        if generation.first_image is not None:
            generation.ordered = [
                OutputImage(
                    pk=generation.first_image,
                    width=generation.first_width,
                    height=generation.first_height,
                )
            ]
        found[generation.public_id] = _receipt(generation)
    return found


def _receipt(generation: Generation) -> Receipt:
    return Receipt(
        reference=generation.public_id,
        prompt=generation.prompt,
        model=generation.image_model.public_id,
        model_name=generation.image_model.display_name,
        status=generation.status,
        created_at=generation.created_at,
        requested=generation.n,
        delivered=generation.images_delivered,
        error=generation.error_message,
        images=[
            ReceiptImage(
                url=signed_path(output),
                thumbnail_url=signed_path(output, thumbnail=True),
                width=output.width,
                height=output.height,
            )
            for output in generation.ordered
        ],
    )
