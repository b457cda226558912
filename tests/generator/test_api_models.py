"""GET /v1/models and /v1/models/{id}: OpenAI's model list shape with Pixdash's extras.

The catalog is the one the data migration seeds. Models are not owned by teams, so the
other-team case is that every team sees the same catalog.
"""

import pytest

from generator.models import ImageModel
from tests.generator.conftest import assert_error

MODEL_KEYS = {
    "id",
    "object",
    "created",
    "owned_by",
    "display_name",
    "description",
    "aliases",
    "credits_per_image",
    "capabilities",
    "availability",
}


@pytest.fixture
def demo_mode_without_keys(settings):
    settings.PIXDASH_DEMO_MODE = True
    settings.PIXDASH_GEMINI_API_KEY = ""
    settings.PIXDASH_OPENAI_API_KEY = ""


def by_id(response) -> dict[str, dict]:
    return {model["id"]: model for model in response.json()["data"]}


def test_it_lists_the_models_in_openai_shape_with_extras(client, alice_key, demo_mode_without_keys):
    response = client.get("/v1/models", headers=alice_key.headers)

    assert response.status_code == 200, response.content
    assert response["X-Request-Id"].startswith("req_")
    body = response.json()
    assert set(body) == {"object", "data"}
    assert body["object"] == "list"
    for model in body["data"]:
        assert set(model) == MODEL_KEYS
        assert model["object"] == "model"
        assert isinstance(model["created"], int)
        assert isinstance(model["owned_by"], str) and model["owned_by"]
        assert set(model["capabilities"]) == {
            "generate",
            "edit",
            "max_reference_images",
            "aspect_ratios",
        }
    ids = [model["id"] for model in body["data"]]
    assert ids[0] == "gemini-2.5-flash-image"  # catalog order
    assert {"gemini-2.5-flash-image", "gpt-image-1.5", "local-preview"} <= set(ids)


def test_nano_banana_shows_its_price_capabilities_and_aliases(
    client, alice_key, demo_mode_without_keys
):
    model = by_id(client.get("/v1/models", headers=alice_key.headers))["gemini-2.5-flash-image"]

    assert model["aliases"] == ["nano-banana"]
    assert model["credits_per_image"] == "2.00"
    assert model["owned_by"] == "Google Gemini"
    capabilities = model["capabilities"]
    assert capabilities["generate"] is True
    assert capabilities["edit"] is True
    assert capabilities["max_reference_images"] == 3
    assert capabilities["aspect_ratios"]["16:9"] == "1344x768"
    assert capabilities["aspect_ratios"]["1:1"] == "1024x1024"


def test_in_demo_mode_without_keys_gemini_models_are_demo_and_local_is_available(
    client, alice_key, demo_mode_without_keys
):
    models = by_id(client.get("/v1/models", headers=alice_key.headers))

    gemini = [m for m in models.values() if m["owned_by"] == "Google Gemini"]
    assert len(gemini) == 3
    assert {m["availability"] for m in gemini} == {"demo"}
    assert models["gpt-image-1.5"]["availability"] == "demo"
    assert models["local-preview"]["availability"] == "available"
    assert models["local-preview"]["credits_per_image"] == "0.00"


def test_without_demo_mode_or_keys_gemini_models_are_unavailable(client, alice_key, settings):
    settings.PIXDASH_DEMO_MODE = False
    settings.PIXDASH_GEMINI_API_KEY = ""
    settings.PIXDASH_OPENAI_API_KEY = ""

    models = by_id(client.get("/v1/models", headers=alice_key.headers))

    assert models["gemini-2.5-flash-image"]["availability"] == "unavailable"
    assert models["local-preview"]["availability"] == "available"


def test_a_configured_provider_makes_its_models_available(client, alice_key, fake_gemini):
    models = by_id(client.get("/v1/models", headers=alice_key.headers))

    assert models["gemini-2.5-flash-image"]["availability"] == "available"


def test_a_disabled_model_is_neither_listed_nor_found(client, alice_key):
    ImageModel.objects.filter(public_id="gpt-image-1.5").update(enabled=False)

    listed = by_id(client.get("/v1/models", headers=alice_key.headers))
    response = client.get("/v1/models/gpt-image-1.5", headers=alice_key.headers)

    assert "gpt-image-1.5" not in listed
    assert_error(response, 404, "model_not_found", "model")


def test_every_team_sees_the_same_catalog(client, alice_key, charlie_key):
    mine = client.get("/v1/models", headers=alice_key.headers).json()
    theirs = client.get("/v1/models", headers=charlie_key.headers).json()

    assert mine == theirs


def test_one_model_by_its_id(client, alice_key, demo_mode_without_keys):
    response = client.get("/v1/models/gemini-2.5-flash-image", headers=alice_key.headers)

    assert response.status_code == 200, response.content
    model = response.json()
    assert set(model) == MODEL_KEYS
    assert model["id"] == "gemini-2.5-flash-image"
    assert model["availability"] == "demo"
    listed = by_id(client.get("/v1/models", headers=alice_key.headers))
    assert model == listed["gemini-2.5-flash-image"]


@pytest.mark.parametrize("alias", ["nano-banana", "NANO-BANANA", "Nano-Banana"])
def test_one_model_by_alias_answers_with_the_canonical_id(client, alice_key, alias):
    response = client.get(f"/v1/models/{alias}", headers=alice_key.headers)

    assert response.status_code == 200, response.content
    assert response.json()["id"] == "gemini-2.5-flash-image"


@pytest.mark.parametrize("model_id", ["dall-e-9", "nano", "gemini-2.5-flash-image-x"])
def test_an_unknown_model_is_a_404(client, alice_key, model_id):
    response = client.get(f"/v1/models/{model_id}", headers=alice_key.headers)

    error = assert_error(response, 404, "model_not_found", "model")
    assert model_id in error["message"]


@pytest.mark.parametrize("url", ["/v1/models", "/v1/models/nano-banana"])
def test_it_401s_without_a_key(client, alice, url):
    response = client.get(url)

    assert_error(response, 401, "invalid_api_key")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("url", ["/v1/models", "/v1/models/nano-banana"])
def test_it_401s_with_an_unknown_key(client, alice, url):
    response = client.get(url, headers={"Authorization": "Bearer pd_live_" + "x" * 38})

    assert_error(response, 401, "invalid_api_key")


def test_posting_to_models_is_a_405(client, alice_key):
    response = client.post("/v1/models", headers=alice_key.headers)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET"
