"""A page acts for the team it shows: two tabs on two teams never cross, whatever team the
login session used last, and a link to another of your teams' images opens it there."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import ledger
from generator.models import Generation, OutputImage
from pixdash.accounts.teams import create_team, sign_up
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def two_teams(transactional_db):
    """Tess owns "Paid" (with credits, current) and "Empty" (none)."""
    user = sign_up(email="tess@example.test", password=PASSWORD, name="Tess")
    paid = user.current_team
    paid.name = "Paid"
    paid.save()
    ledger.credit(team=paid, amount=Decimal("20"), reason="browser test")
    empty = create_team(owner=user, name="Empty")
    user.current_team = paid
    user.save()
    return user, paid, empty


def test_a_generate_in_one_tab_is_charged_to_that_tabs_team(
    browser, new_page, live_server, log_in, two_teams
):
    user, paid, empty = two_teams
    tab_paid = log_in(new_page(), user)
    expect(tab_paid.get_by_label("Current team")).to_have_value(str(paid.pk))
    tab_paid.get_by_label("Prompt").fill("A red kite over the hills")

    # A second tab of the same browser switches to the other team.
    tab_empty = tab_paid.context.new_page()
    tab_empty.goto(live_server.url + "/")
    tab_empty.get_by_label("Current team").select_option(label="Empty")
    expect(tab_empty.get_by_label("Current team")).to_have_value(str(empty.pk))

    # Back in the first tab, still showing "Paid": its Generate is checked and charged there.
    tab_paid.get_by_role("radio", name=re.compile("^Nano Banana")).first.check()
    tab_paid.get_by_role("button", name="Generate").click()
    expect(tab_paid.locator(".job").first).to_be_visible()
    job = Generation.objects.get()
    assert job.team == paid
    assert ledger.balance(paid) == Decimal("20") - job.credits_held
    assert ledger.balance(empty) == Decimal("0")
    expect(tab_paid.get_by_label("Current team")).to_have_value(str(paid.pk))


def test_a_link_to_another_of_your_teams_images_opens_it(
    new_page, live_server, log_in, two_teams, make_images
):
    user, paid, empty = two_teams
    (image,) = make_images(user, paid, prompt="A fox in the snow")
    user.current_team = empty
    user.save()
    # A link as it was shared before team pages had the team in their address.
    page = log_in(new_page(), user, f"/images/{image.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(image.generation.prompt)
    expect(page.get_by_label("Current team")).to_have_value(str(paid.pk))
    assert OutputImage.objects.filter(pk=image.pk, team=paid).exists()
