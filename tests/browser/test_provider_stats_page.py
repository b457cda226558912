"""The staff provider page in Chromium: a readable table with inline bars."""

import pytest

from generator.models import ProviderCall
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_staff_see_provider_health_as_a_table_with_bars(
    new_page, live_server, screenshot, django_user_model
):
    django_user_model.objects.create_user(
        email="ops@pixdash.test", password=PASSWORD, name="Ops", is_staff=True
    )
    rows = [
        ("gemini", "gemini-2.5-flash-image", ok, code, latency)
        for ok, code, latency in [(True, "", 6200)] * 40 + [(False, "no_image", 9000)] * 2
    ]
    rows += [("gemini", "gemini-3-pro-image-preview", True, "", 14000)] * 12
    rows += [
        ("openai", "gpt-image-1.5", ok, code, latency)
        for ok, code, latency in [(True, "", 11000)] * 9
        + [(False, "upstream_unavailable", 120000)] * 3
    ]  # noqa: E501
    rows += [("local", "local-preview", True, "", 90)] * 25
    ProviderCall.objects.bulk_create(
        ProviderCall(provider=p, model=m, ok=ok, error_code=c, latency_ms=ms)
        for p, m, ok, c, ms in rows
    )
    page = new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/staff/providers/")
    page.fill("input[name=username]", "ops@pixdash.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/staff/providers/")

    table = page.get_by_test_id("provider-stats")
    assert table.locator("tbody tr").count() == 4
    assert "95.2%" in table.inner_text()
    assert "120000 ms" in table.inner_text()
    screenshot(page, "staff-providers")
