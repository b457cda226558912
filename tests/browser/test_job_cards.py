"""Job cards: cancel a queued job (its hold comes back at once) and clear finished ones.

No worker runs in this module, so a job waits in the queue until it is canceled (the
generator module's worker would pick it up)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import ledger
from tests.browser.test_generator import _generator, _pick_model

pytestmark = pytest.mark.browser


def test_a_queued_job_is_canceled_from_its_card_and_cleared_from_the_list(new_page, log_in, dana):
    page = _generator(new_page, log_in, dana)
    page.get_by_label("Prompt").fill("Never mind")
    _pick_model(page, "Nano Banana Pro")
    page.get_by_role("button", name="Generate").click()
    card = page.locator(".job").first
    expect(card.get_by_test_id("job-status")).to_have_text("Queued…")
    expect(card).to_contain_text("8 credits on hold")
    card.get_by_role("button", name="Cancel").click()
    expect(card.get_by_test_id("job-status")).to_have_text("Canceled")
    expect(card).to_contain_text("nothing charged")
    assert ledger.balance(dana.current_team) == Decimal("50")
    expect(page.locator("#balance-chip")).to_contain_text("Balance 50 credits")
    card.get_by_role("button", name="Clear this job from the list").click()
    expect(page.locator(".job")).to_have_count(0)
    page.reload()
    expect(page.locator(".job")).to_have_count(0)
