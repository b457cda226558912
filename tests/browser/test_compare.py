"""Trying a job on other models: nothing paid is ticked for you, each model says what it
would cost and which ratio it renders, and the total shows before anything runs."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import ledger
from generator.models import Generation
from pixdash.accounts.teams import sign_up
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_compare_ticks_nothing_shows_prices_the_total_and_mapped_ratios(
    new_page, log_in, make_images, transactional_db, screenshot
):
    user = sign_up(email="cam@example.test", password=PASSWORD, name="Cam")
    ledger.credit(team=user.current_team, amount=Decimal("100"), reason="browser test")
    (image,) = make_images(user, user.current_team, prompt="A wide valley", size="16:9")
    job = image.generation
    page = new_page()
    log_in(page, user, f"/compare/?g={job.pk}")
    form = page.locator("#try form")
    expect(form.get_by_role("checkbox")).to_have_count(4)
    for box in form.get_by_role("checkbox").all():
        expect(box).not_to_be_checked()

    nano = form.get_by_role("checkbox", name=re.compile("^Nano Banana Demo"))
    gpt = form.get_by_role("checkbox", name=re.compile("^GPT Image 1.5"))
    expect(nano).to_have_accessible_description("1 image × 2 credits = 2 credits")
    expect(gpt).to_have_accessible_description(
        "1 image × 1 credit = 1 credit · no 16:9: renders 3:2"
    )
    nano.check()
    gpt.check()
    expect(page.get_by_test_id("compare-total")).to_have_text("2 models: 3 credits in all")
    screenshot(page, "compare")

    form.get_by_role("button", name="Run side by side").click()
    expect(page.locator(".compare-grid .job")).to_have_count(3)
    started = Generation.objects.exclude(pk=job.pk)
    assert sorted(g.image_model.public_id for g in started) == [
        "gemini-2.5-flash-image",
        "gpt-image-1.5",
    ]
    assert started.get(image_model__public_id="gpt-image-1.5").aspect_ratio == "3:2"
