"""generator.gallery's image actions: favourite, delete and restore change only the given
team's images, and say how many changed."""

from generator import gallery
from generator.models import OutputImage


def test_favourite_and_unfavourite(alice, make_job):
    images = list(make_job(alice, n=2).outputs.all())
    ids = [image.pk for image in images]
    assert gallery.favourite(team=alice.team, ids=ids, on=True) == 2
    assert gallery.favourite(team=alice.team, ids=ids, on=True) == 0  # already
    assert set(OutputImage.objects.filter(favourite=True).values_list("pk", flat=True)) == set(ids)
    assert gallery.favourite(team=alice.team, ids=ids[:1], on=False) == 1


def test_delete_hides_and_restore_brings_back(alice, make_job):
    image = make_job(alice).outputs.get()
    assert gallery.delete(team=alice.team, ids=[image.pk]) == 1
    assert not gallery.visible(alice.team).exists()
    assert gallery.favourite(team=alice.team, ids=[image.pk]) == 0  # deleted: untouched
    assert gallery.restore(team=alice.team, ids=[image.pk]) == 1
    assert gallery.visible(alice.team).get() == image


def test_another_teams_ids_change_nothing(alice, charlie, make_job):
    image = make_job(alice).outputs.get()
    assert gallery.favourite(team=charlie.team, ids=[image.pk]) == 0
    assert gallery.delete(team=charlie.team, ids=[image.pk]) == 0
    fresh = OutputImage.objects.get(pk=image.pk)
    assert not fresh.favourite and fresh.deleted_at is None
    gallery.delete(team=alice.team, ids=[image.pk])
    assert gallery.restore(team=charlie.team, ids=[image.pk]) == 0
    assert OutputImage.objects.get(pk=image.pk).deleted_at is not None
