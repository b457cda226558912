"""The generator's side of billing receipts: a ledger reference → what it bought.

Registered with billing.receipts at app ready(), so billing renders receipts with
thumbnails without importing generator (dependencies point generator → billing).
"""

from django.db.models import Prefetch

from billing.receipts import Receipt, ReceiptImage
from generator.media import signed_path
from generator.models import Generation, OutputImage
from pixdash.accounts.models import Team


def lookup(reference: str, team: Team) -> Receipt | None:
    return lookup_many([reference], team).get(reference)


def lookup_many(references: list[str], team: Team) -> dict[str, Receipt]:
    """Receipts of the team's generations ``references``, in two queries (a ledger page)."""
    generations = (
        Generation.objects.filter(public_id__in=references, team=team)
        .select_related("image_model")
        .prefetch_related(
            # Purged images have no files left to show.
            Prefetch(
                "outputs",
                OutputImage.objects.filter(purged_at__isnull=True).order_by("index"),
                to_attr="ordered",
            )
        )
    )
    return {generation.public_id: _receipt(generation) for generation in generations}


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
