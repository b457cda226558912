"""GET /models/: the catalog with prices, capabilities, availability and API facts."""


def test_it_lists_every_enabled_model_with_its_api_facts(alice, settings):
    settings.PIXDASH_DEMO_MODE = False
    html = alice.client.get(f"{alice.prefix}/models/").content.decode()
    assert 'aria-current="page">Models</a>' in html
    assert "<code>gemini-2.5-flash-image</code>" in html and "<code>nano-banana</code>" in html
    assert "Unavailable" in html and "Available" in html
    assert "POST /v1/images/edits" in html
    assert "client.images.generate(" in html and "model=&#x27;nano-banana&#x27;" in html
    assert "$PIXDASH_API_KEY" in html


def test_demo_models_say_so(alice, settings):
    settings.PIXDASH_DEMO_MODE = True
    assert (
        "Demo mode: rendered by the offline renderer"
        in alice.client.get(f"{alice.prefix}/models/").content.decode()
    )


def test_it_needs_a_login(client, alice):
    response = client.get(f"{alice.prefix}/models/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
