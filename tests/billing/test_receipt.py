"""Receipts: a charge links to its generation's prompt and thumbnails, resolved through
the lookup the generator registers (billing does not import generator); 404 for other
teams' charges and for a member looking at a teammate's."""

from decimal import Decimal

import pytest

from billing import ledger, receipts


@pytest.fixture(autouse=True)
def _db(db):
    pass


def test_it_shows_what_the_charge_bought(alice, run_job):
    generation = run_job(alice, n=2)

    page = alice.client.get(alice.url("billing_receipt", generation.public_id))

    html = page.content.decode()
    assert page.status_code == 200
    assert "a fox in the snow" in html
    assert html.count('<img src="/media/signed/') == 2
    assert 'data-testid="charged">4<' in html
    # The thumbnail links work for the viewer.
    thumb = page.context["receipt"].images[0].thumbnail_url
    assert alice.client.get(thumb)["Content-Type"] == "image/webp"


def test_the_generator_registered_its_lookup_at_ready(alice, run_job):
    generation = run_job(alice)
    found = receipts.find(generation.public_id, team=alice.team)
    assert found is not None and found.delivered == 1


def test_another_teams_charge_is_404(alice, charlie, run_job):
    generation = run_job(alice)
    url = alice.url("billing_receipt", generation.public_id)
    assert charlie.client.get(url).status_code == 404
    assert receipts.find(generation.public_id, team=charlie.team) is None


def test_a_member_sees_own_receipts_only(alice, bob, run_job):
    alices = run_job(alice)
    bobs = run_job(bob)
    assert bob.client.get(bob.url("billing_receipt", alices.public_id)).status_code == 404
    assert bob.client.get(bob.url("billing_receipt", bobs.public_id)).status_code == 200


def test_an_unsettled_hold_shows_as_running(alice):
    ledger.hold(team=alice.team, amount=Decimal("2"), reference="pending-ref", user=alice.user)
    page = alice.client.get(alice.url("billing_receipt", "pending-ref"))
    assert "not settled yet" in page.content.decode()
    assert "no longer available" in page.content.decode()


def test_unknown_references_are_404(alice):
    assert alice.client.get(alice.url("billing_receipt", "nope")).status_code == 404
