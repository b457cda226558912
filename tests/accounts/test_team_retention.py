"""POST /t/<team>/team/retention/: how long the team keeps its images."""

from pixdash.accounts.models import Team


def test_a_manager_sets_and_clears_the_policy(alice):
    response = alice.client.post(f"{alice.prefix}/team/retention/", {"days": "30"})

    assert response.status_code == 302
    assert Team.objects.get(pk=alice.team.pk).image_retention_days == 30
    page = alice.client.get(f"{alice.prefix}/team/").content.decode()
    assert "Images older than 30 days are deleted automatically" in page

    alice.client.post(f"{alice.prefix}/team/retention/", {"days": ""})
    assert Team.objects.get(pk=alice.team.pk).image_retention_days is None
    assert (
        "Images are kept until someone deletes them"
        in alice.client.get(f"{alice.prefix}/team/").content.decode()
    )


def test_it_changes_only_that_team_and_another_teams_url_is_not_found(alice, charlie):
    alice.client.post(f"{alice.prefix}/team/retention/", {"days": "7"})

    assert Team.objects.get(pk=charlie.team.pk).image_retention_days is None
    response = alice.client.post(f"{charlie.prefix}/team/retention/", {"days": "1"})
    assert response.status_code == 404
    assert Team.objects.get(pk=charlie.team.pk).image_retention_days is None


def test_members_see_the_policy_but_cannot_change_it(alice, bob):
    alice.client.post(f"{alice.prefix}/team/retention/", {"days": "7"})

    page = bob.client.get(f"{bob.prefix}/team/").content.decode()
    assert "Images older than 7 days" in page
    assert "/team/retention/" not in page
    assert bob.client.post(f"{bob.prefix}/team/retention/", {"days": "1"}).status_code == 403
    assert Team.objects.get(pk=alice.team.pk).image_retention_days == 7


def test_bad_values_are_refused_with_a_message(alice):
    for bad in ("0", "-3", "many", "99999"):
        response = alice.client.post(f"{alice.prefix}/team/retention/", {"days": bad})
        assert response.status_code == 400
        assert 'class="field-error"' in response.content.decode()
    assert Team.objects.get(pk=alice.team.pk).image_retention_days is None
