"""The generator's side of billing receipts: a ledger reference → what it bought.

Registered with billing.receipts at app ready(), so billing renders receipts with
thumbnails without importing generator (dependencies point generator → billing).
"""

from billing.receipts import Receipt, ReceiptImage
from generator.media import signed_path
from generator.models import Generation
from pixdash.accounts.models import Team


def lookup(reference: str, team: Team) -> Receipt | None:
    generation = (
        Generation.objects.filter(public_id=reference, team=team)
        .select_related("image_model")
        .prefetch_related("outputs")
        .first()
    )
    if generation is None:
        return None
    return Receipt(
        reference=generation.public_id,
        prompt=generation.prompt,
        model=generation.image_model.public_id,
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
            for output in generation.outputs.order_by("index")
        ],
    )
