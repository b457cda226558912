"""generator.catalog and ImageModel: the seeded models and prices, finding a model by id or
alias, and mapping a requested size to a ratio the model renders."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from generator import catalog
from generator.models import ImageModel


def model(public_id: str) -> ImageModel:
    return ImageModel.objects.get(public_id=public_id)


@pytest.mark.parametrize(
    ("name", "public_id", "price", "provider"),
    [
        ("nano-banana", "gemini-2.5-flash-image", "2", "gemini"),
        ("nano-banana-2", "gemini-3.1-flash-image-preview", "4", "gemini"),
        ("nano-banana-pro", "gemini-3-pro-image-preview", "8", "gemini"),
        ("gpt-image-1.5", "gpt-image-1.5", "1", "openai"),
        ("local-preview", "local-preview", "0", "local"),
    ],
)
def test_the_seed_migration_lists_the_documented_models_and_prices(
    db, name, public_id, price, provider
):
    seeded = catalog.resolve(name)

    assert seeded is not None
    assert seeded.public_id == public_id
    assert seeded.credits_per_image == Decimal(price)
    assert seeded.provider == provider
    assert seeded.enabled
    seeded.full_clean()  # the seed passes the admin's validation


def test_the_catalog_is_ordered_for_display(db):
    assert [m.public_id for m in catalog.enabled_models()] == [
        "gemini-2.5-flash-image",
        "gemini-3.1-flash-image-preview",
        "gemini-3-pro-image-preview",
        "gpt-image-1.5",
        "local-preview",
    ]


@pytest.mark.parametrize(
    "name", ["NANO-BANANA", "Nano-Banana", " nano-banana ", "Gemini-2.5-Flash-Image"]
)
def test_aliases_and_ids_resolve_in_any_case(db, name):
    assert catalog.resolve(name).public_id == "gemini-2.5-flash-image"


@pytest.mark.parametrize("name", ["", "nano", "dall-e-3", "nano-banana-3", "gemini"])
def test_unknown_names_do_not_resolve(db, name):
    assert catalog.resolve(name) is None


def test_a_disabled_model_does_not_resolve_by_id_or_alias(db):
    ImageModel.objects.filter(public_id="gemini-3-pro-image-preview").update(enabled=False)

    assert catalog.resolve("gemini-3-pro-image-preview") is None
    assert catalog.resolve("nano-banana-pro") is None
    assert "gemini-3-pro-image-preview" not in [m.public_id for m in catalog.enabled_models()]
    assert catalog.resolve("nano-banana") is not None


def test_an_alias_added_in_the_admin_resolves(db):
    gpt = model("gpt-image-1.5")
    gpt.aliases = ["gpt-image"]
    gpt.save()

    assert catalog.resolve("GPT-Image") == gpt


def test_price_for_multiplies_exactly(db):
    assert model("gemini-3-pro-image-preview").price_for(3) == Decimal("24")
    assert model("local-preview").price_for(10) == 0


# --- sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "ratio"),
    [
        ("1024x1024", "1:1"),
        ("1920x1080", "16:9"),
        ("1080x1920", "9:16"),
        ("16:9", "16:9"),
        ("9:16", "9:16"),
        ("1536x1024", "3:2"),
        ("2560x1080", "21:9"),
        ("800x600", "4:3"),
        ("10000x10", "21:9"),  # far outside the range: the nearest one
    ],
)
def test_nearest_ratio_picks_the_models_closest_ratio(db, size, ratio):
    assert catalog.nearest_ratio(model("gemini-2.5-flash-image"), size) == ratio


@pytest.mark.parametrize("size", [None, "", "auto", "AUTO", " auto "])
def test_no_size_or_auto_gives_the_default_ratio(db, size):
    assert catalog.nearest_ratio(model("gemini-2.5-flash-image"), size) == "1:1"


def test_nearest_ratio_only_offers_what_the_model_renders(db):
    gpt = model("gpt-image-1.5")

    assert catalog.nearest_ratio(gpt, "1920x1080") == "3:2"
    assert catalog.nearest_ratio(gpt, "9:16") == "2:3"
    assert gpt.size_for("3:2") == (1536, 1024)


def test_ratio_distance_is_symmetric_on_a_log_scale(db):
    square_and_extremes = model("gemini-2.5-flash-image")
    square_and_extremes.sizes = {"1:1": "1024x1024", "2:1": "1024x512", "1:2": "512x1024"}

    # sqrt(2):1 is exactly between 1:1 and 2:1 on a log scale; a hair above picks 2:1.
    assert catalog.nearest_ratio(square_and_extremes, "1415x1000") == "2:1"
    assert catalog.nearest_ratio(square_and_extremes, "1000x1415") == "1:2"
    assert catalog.nearest_ratio(square_and_extremes, "1400x1000") == "1:1"


@pytest.mark.parametrize(
    "size",
    ["big", "1024", "1024x", "x1024", "1024*1024", "0x1024", "1024x0", "0:1", "-1x5", "1.5:1"],
)
def test_junk_sizes_are_a_value_error(db, size):
    with pytest.raises(ValueError):
        catalog.nearest_ratio(model("gemini-2.5-flash-image"), size)


# --- ImageModel.clean -------------------------------------------------------------------


def valid_model(**fields) -> ImageModel:
    values = {
        "public_id": "my-model",
        "display_name": "Mine",
        "provider": "local",
        "upstream_model": "mine",
        "credits_per_image": Decimal("1.50"),
        "sizes": {"1:1": "1024x1024", "16:9": "1344x768"},
        "default_aspect_ratio": "1:1",
        "aliases": ["mine"],
    }
    return ImageModel(**{**values, **fields})


def test_a_valid_model_passes_full_clean(db):
    valid_model().full_clean()


@pytest.mark.parametrize(
    "sizes",
    [
        {},
        [],
        "1024x1024",
        {"square": "1024x1024"},
        {"1:1": "big"},
        {"1:1": "1024"},
        {"1:1": "1024x1024x3"},
        {"1:1": 1024},
        {"1:1": "1024x1024", "16/9": "1344x768"},
    ],
)
def test_clean_rejects_bad_sizes(db, sizes):
    with pytest.raises(ValidationError) as raised:
        valid_model(sizes=sizes).clean()

    assert "sizes" in raised.value.message_dict


@pytest.mark.parametrize(
    "aliases", ["nano", ["Nano-Banana"], ["has space"], [""], [1], ["ok", None], {"a": 1}]
)
def test_clean_rejects_bad_aliases(db, aliases):
    with pytest.raises(ValidationError) as raised:
        valid_model(aliases=aliases).clean()

    assert "aliases" in raised.value.message_dict


def test_clean_requires_the_default_ratio_among_the_sizes(db):
    with pytest.raises(ValidationError) as raised:
        valid_model(default_aspect_ratio="4:3").clean()

    assert "default_aspect_ratio" in raised.value.message_dict


def test_full_clean_rejects_a_bad_public_id(db):
    with pytest.raises(ValidationError) as raised:
        valid_model(public_id="My Model").full_clean()

    assert "public_id" in raised.value.message_dict


def test_clean_refuses_an_alias_another_model_already_answers_to(db):
    copycat = ImageModel.objects.get(public_id="gemini-3-pro-image-preview")
    copycat.aliases = ["nano-banana-pro", "nano-banana"]
    with pytest.raises(ValidationError, match="Already used by another model: nano-banana"):
        copycat.full_clean()
