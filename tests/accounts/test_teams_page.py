"""The list of your teams: create one (you own it, it becomes current) and switch."""

import re

import pytest

from pixdash.accounts.models import Membership, Role, Team
from pixdash.accounts.teams import create_team, switch_team


def _switcher_options(html: str) -> list[str]:
    switcher = re.search(r'<select id="team-switcher".*?</select>', html, re.S).group(0)
    return re.findall(r"<option [^>]*>([^<]*)</option>", switcher)


def _current_team(person) -> Team:
    person.user.refresh_from_db()
    return person.user.current_team


def test_the_page_lists_only_your_teams(alice, bob, charlie):
    html = bob.client.get("/teams/").content.decode()
    assert "Acme" in html
    assert "Globex" not in html


def test_creating_a_team_makes_you_its_owner_and_switches_to_it(alice):
    response = alice.client.post("/teams/", {"name": "  Side project  "})
    assert response.status_code == 302
    team = Team.objects.get(name="Side project")
    assert response["Location"] == f"/t/{team.slug}/team/"
    assert Membership.objects.get(team=team, user=alice.user).role == Role.OWNER
    assert team.memberships.count() == 1
    assert _current_team(alice) == team
    assert "<h1>Side project</h1>" in alice.client.get(response["Location"]).content.decode()


def test_new_teams_get_distinct_slugs(alice):
    alice.client.post("/teams/", {"name": "Acme"})
    slugs = list(Team.objects.filter(name="Acme").values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs)) == 2


@pytest.mark.parametrize("data", [{"name": "   "}, {}])
def test_a_team_needs_a_name(alice, data):
    response = alice.client.post("/teams/", data)
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert Team.objects.filter(memberships__user=alice.user).count() == 1


def test_a_user_without_a_team_is_sent_here_to_create_one(bob):
    bob.client.post(f"{bob.prefix}/team/leave/")
    response = bob.client.get("/", follow=True)
    assert response.redirect_chain == [("/teams/", 302)]
    assert "You are not in any team" in response.content.decode()
    # The pages of the team they left explain why they cannot open them.
    left = bob.client.get(f"{bob.prefix}/keys/")
    assert left.status_code == 404
    assert "a team you are not in" in left.content.decode()


def test_switching_changes_the_current_team(alice):
    side = create_team(owner=alice.user, name="Side project")
    switch_team(user=alice.user, team=alice.team)

    response = alice.client.post("/teams/switch/", {"team": str(side.pk)})
    assert response.status_code == 302
    assert response["Location"] == f"/t/{side.slug}/"
    assert _current_team(alice) == side


def test_switching_opens_the_same_page_of_the_other_team(alice):
    side = create_team(owner=alice.user, name="Side project")
    same = alice.client.post("/teams/switch/", {"team": side.pk, "next": f"{alice.prefix}/keys/"})
    assert same["Location"] == f"/t/{side.slug}/keys/"
    # One image is not in the other team: its home instead.
    image = alice.client.post(
        "/teams/switch/", {"team": side.pk, "next": f"{alice.prefix}/images/1/"}
    )
    assert image["Location"] == f"/t/{side.slug}/"


def test_switching_returns_to_a_safe_next_only(alice):
    unsafe = alice.client.post(
        "/teams/switch/", {"team": alice.team.pk, "next": "https://evil.example/keys/"}
    )
    assert unsafe["Location"] == f"{alice.prefix}/"


def test_switching_is_post_only(alice):
    side = create_team(owner=alice.user, name="Side project")
    switch_team(user=alice.user, team=alice.team)
    assert alice.client.get(f"/teams/switch/?team={side.pk}").status_code == 405
    assert _current_team(alice) == alice.team


def test_it_404s_for_a_team_you_are_not_in(alice, charlie):
    response = alice.client.post("/teams/switch/", {"team": charlie.team.pk})
    assert response.status_code == 404
    assert _current_team(alice) == alice.team


@pytest.mark.parametrize("value", ["", "abc", "1.0", "-1", " 1", "0x1", "²", "١", "9" * 40, "1e3"])
def test_a_malformed_team_id_gets_404_never_500(alice, value):
    response = alice.client.post("/teams/switch/", {"team": value})
    assert response.status_code == 404
    assert _current_team(alice) == alice.team


def test_the_team_switcher_lists_only_your_teams(alice, bob, charlie):
    create_team(owner=alice.user, name="Side project")
    assert _switcher_options(alice.client.get(f"{alice.prefix}/team/").content.decode()) == [
        "Acme",
        "Side project",
    ]
    assert _switcher_options(bob.client.get(f"{bob.prefix}/team/").content.decode()) == ["Acme"]
    assert _switcher_options(charlie.client.get(f"{charlie.prefix}/keys/").content.decode()) == [
        "Globex"
    ]


def test_the_team_switcher_marks_the_team_of_the_page(alice):
    side = create_team(owner=alice.user, name="Side project")
    html = alice.client.get(f"/t/{side.slug}/team/").content.decode()
    assert re.search(r'<option value="\d+" selected>Side project</option>', html)
    html = alice.client.get(f"{alice.prefix}/team/").content.decode()
    assert re.search(r'<option value="\d+" selected>Acme</option>', html)


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    assert client.get("/teams/")["Location"].startswith("/accounts/login/")
    assert client.post("/teams/switch/", {"team": "1"})["Location"].startswith("/accounts/login/")
