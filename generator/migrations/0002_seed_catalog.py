from decimal import Decimal

from django.db import migrations

GEMINI_SIZES = {
    "1:1": "1024x1024",
    "2:3": "832x1248",
    "3:2": "1248x832",
    "3:4": "864x1184",
    "4:3": "1184x864",
    "4:5": "896x1152",
    "5:4": "1152x896",
    "9:16": "768x1344",
    "16:9": "1344x768",
    "21:9": "1536x672",
}

# Prices from Pixapi's published list (1 credit = 0.01 USD). Frozen here on purpose: a data
# migration must not change when generator.catalog does.
SEED = [
    {
        "public_id": "gemini-2.5-flash-image",
        "aliases": ["nano-banana"],
        "display_name": "Nano Banana",
        "description": "Google's fast Gemini image model: quick drafts and edits.",
        "provider": "gemini",
        "upstream_model": "gemini-2.5-flash-image",
        "credits_per_image": Decimal("2"),
        "max_reference_images": 3,
        "sizes": GEMINI_SIZES,
        "sort_order": 10,
    },
    {
        "public_id": "gemini-3.1-flash-image-preview",
        "aliases": ["nano-banana-2"],
        "display_name": "Nano Banana 2",
        "description": "Gemini 3.1 Flash Image: sharper detail and text, still fast.",
        "provider": "gemini",
        "upstream_model": "gemini-3.1-flash-image-preview",
        "credits_per_image": Decimal("4"),
        "max_reference_images": 3,
        "sizes": GEMINI_SIZES,
        "sort_order": 20,
    },
    {
        "public_id": "gemini-3-pro-image-preview",
        "aliases": ["nano-banana-pro"],
        "display_name": "Nano Banana Pro",
        "description": "Gemini 3 Pro Image: the most capable Gemini image model.",
        "provider": "gemini",
        "upstream_model": "gemini-3-pro-image-preview",
        "credits_per_image": Decimal("8"),
        "max_reference_images": 3,
        "sizes": GEMINI_SIZES,
        "sort_order": 30,
    },
    {
        "public_id": "gpt-image-1.5",
        "aliases": [],
        "display_name": "GPT Image 1.5",
        "description": "OpenAI's image model through any OpenAI-compatible API.",
        "provider": "openai",
        "upstream_model": "gpt-image-1.5",
        "credits_per_image": Decimal("1"),
        "max_reference_images": 16,
        "sizes": {"1:1": "1024x1024", "3:2": "1536x1024", "2:3": "1024x1536"},
        "sort_order": 40,
    },
    {
        "public_id": "local-preview",
        "aliases": [],
        "display_name": "Offline preview",
        "description": "Built-in offline renderer: free, instant, no provider key. For trying "
        "Pixdash and for tests; pictures are abstract, not AI-generated.",
        "provider": "local",
        "upstream_model": "local-preview",
        "credits_per_image": Decimal("0"),
        "max_reference_images": 16,
        "sizes": GEMINI_SIZES,
        "sort_order": 90,
    },
]


def seed(apps, schema_editor):
    ImageModel = apps.get_model("generator", "ImageModel")
    for row in SEED:
        ImageModel.objects.update_or_create(public_id=row["public_id"], defaults=row)


def unseed(apps, schema_editor):
    ImageModel = apps.get_model("generator", "ImageModel")
    ImageModel.objects.filter(public_id__in=[row["public_id"] for row in SEED]).delete()


class Migration(migrations.Migration):
    dependencies = [("generator", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
