"""People get Pixdash's own 404 page even when the server runs in debug mode (make run)."""


def test_in_debug_a_missing_page_is_the_real_404(alice, settings):
    settings.DEBUG = True
    for path in ("/no-such-page/", f"{alice.prefix}/images/999999/", "/t/nobody/gallery/"):
        response = alice.client.get(path)
        assert response.status_code == 404, path
        html = response.content.decode()
        assert "URLconf" not in html and "technical" not in html.lower(), path
        assert "Pixdash" in html, path


def test_the_api_keeps_its_json_errors(client, alice_key, settings):
    settings.DEBUG = True
    response = client.get("/v1/no-such-thing", headers=alice_key.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("not_found", "model_not_found")
