"""The model catalog in the admin: edits, validation, and no restart needed. The
admin client is pytest-django's (a superuser)."""

import json

import pytest
from django.urls import reverse

from generator.models import ImageModel


def form_data(model: ImageModel, **changes) -> dict:
    data = {
        "public_id": model.public_id,
        "aliases": ", ".join(model.aliases),
        "display_name": model.display_name,
        "description": model.description,
        "provider": model.provider,
        "upstream_model": model.upstream_model,
        "credits_per_image": str(model.credits_per_image),
        "supports_generate": "on" if model.supports_generate else "",
        "supports_edit": "on" if model.supports_edit else "",
        "max_reference_images": model.max_reference_images,
        "sizes": json.dumps(model.sizes),
        "default_aspect_ratio": model.default_aspect_ratio,
        "enabled": "on" if model.enabled else "",
        "sort_order": model.sort_order,
        "fallback_models": ", ".join(model.fallback_models),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def change(admin_client, which: str, /, **changes):
    model = ImageModel.objects.get(public_id=which)
    url = reverse("admin:generator_imagemodel_change", args=[model.pk])
    return admin_client.post(url, form_data(model, **changes))


def errors(response) -> str:
    assert response.status_code == 200, "the form was accepted"
    return str(response.context["adminform"].form.errors)


def test_the_catalog_is_listed_with_prices_and_fallback_order(admin_client):
    response = admin_client.get(reverse("admin:generator_imagemodel_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    for public_id in ImageModel.objects.values_list("public_id", flat=True):
        assert public_id in html


def test_an_operator_points_a_model_at_a_new_upstream_name(admin_client, client, alice_key):
    response = change(
        admin_client,
        "gemini-2.5-flash-image",
        upstream_model="gemini-2.6-flash-image",
        aliases="nano-banana, banana",
        fallback_models="gpt-image-1.5",
    )

    assert response.status_code == 302, errors(response)
    model = ImageModel.objects.get(public_id="gemini-2.5-flash-image")
    assert model.upstream_model == "gemini-2.6-flash-image"
    assert model.aliases == ["nano-banana", "banana"]
    assert model.fallback_models == ["gpt-image-1.5"]
    # The next request sees it (the catalog is read per request, not cached at start).
    answer = client.get("/v1/models/banana", headers=alice_key.headers)
    assert answer.json()["id"] == "gemini-2.5-flash-image"


def test_unknown_fallback_targets_are_refused(admin_client):
    response = change(admin_client, "gemini-2.5-flash-image", fallback_models="no-such-model")

    assert "Unknown models: no-such-model" in errors(response)


def test_an_alias_another_model_uses_is_refused(admin_client):
    response = change(admin_client, "gpt-image-1.5", aliases="nano-banana")

    assert "Already used by another model: nano-banana" in errors(response)


@pytest.mark.parametrize("price", ["0", "0.00"])
def test_a_paid_provider_at_no_price_is_refused(admin_client, price):
    response = change(admin_client, "gemini-3-pro-image-preview", credits_per_image=price)

    assert "need a price above 0" in errors(response)


def test_the_offline_renderer_may_be_free(admin_client):
    response = change(admin_client, "local-preview", credits_per_image="0")

    assert response.status_code == 302, errors(response)


def test_a_negative_price_is_refused_for_any_provider(admin_client):
    response = change(admin_client, "local-preview", credits_per_image="-1")

    assert errors(response)
    assert ImageModel.objects.get(public_id="local-preview").credits_per_image >= 0


def test_a_fallback_cycle_is_refused(admin_client):
    assert change(admin_client, "gpt-image-1.5", fallback_models="local-preview").status_code == 302

    response = change(admin_client, "local-preview", fallback_models="gpt-image-1.5")

    assert "cycle" in errors(response)


def test_renaming_a_model_others_fall_back_to_is_refused(admin_client):
    change(admin_client, "gemini-2.5-flash-image", fallback_models="gpt-image-1.5")

    response = change(admin_client, "gpt-image-1.5", public_id="gpt-image-2")

    assert "gemini-2.5-flash-image fall back to gpt-image-1.5" in errors(response)


def test_malformed_ids_in_the_lists_are_refused(admin_client):
    response = change(admin_client, "gpt-image-1.5", aliases="Not An Id!")

    assert "is not a model id" in errors(response)


def test_models_cannot_be_deleted_only_disabled(admin_client):
    model = ImageModel.objects.get(public_id="gpt-image-1.5")

    response = admin_client.post(
        reverse("admin:generator_imagemodel_delete", args=[model.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert ImageModel.objects.filter(pk=model.pk).exists()


def test_members_without_staff_rights_cannot_open_it(alice):
    response = alice.client.get(reverse("admin:generator_imagemodel_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
