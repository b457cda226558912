"""GET /images/<id>/: the full image and everything about it, prev/next, lineage."""

from django.utils import timezone

from generator.models import Generation, OutputImage, Source


def test_it_shows_the_facts_and_actions(alice, make_job):
    job = make_job(alice, prompt="a lighthouse at dusk", size="16:9")
    image = job.outputs.get()
    html = alice.client.get(f"{alice.prefix}/images/{image.pk}/").content.decode()
    assert "a lighthouse at dusk" in html
    assert f'src="/images/{image.pk}/original"' in html
    assert "1344 × 768" in html and "Nano Banana" in html
    assert "Alice" in html and "Browser" in html
    for action in ("Edit this image", "Download", "Run again", "Try on other models", "Delete"):
        assert action in html
    assert "Copy as API call" in html and "client.images.generate(" in html


def test_an_api_image_names_its_key(alice, alice_key, make_job):
    job = make_job(alice, source=Source.API, api_key=alice_key.api_key)
    html = alice.client.get(f"{alice.prefix}/images/{job.outputs.get().pk}/").content.decode()
    assert "API key “alice-backend”" in html


def test_prev_and_next_follow_the_gallery_order_and_filters(alice, make_job):
    a, b, c = (make_job(alice, prompt=p).outputs.get() for p in ("fox one", "owl", "fox two"))
    OutputImage.objects.update(created_at=timezone.now())
    html = alice.client.get(f"{alice.prefix}/images/{b.pk}/").content.decode()
    assert f'rel="prev" data-hotkey="ArrowLeft" href="{alice.prefix}/images/{c.pk}/"' in html
    assert f'rel="next" data-hotkey="ArrowRight" href="{alice.prefix}/images/{a.pk}/"' in html
    html = alice.client.get(f"{alice.prefix}/images/{c.pk}/", {"q": "fox"}).content.decode()
    assert f'href="{alice.prefix}/images/{a.pk}/?q=fox"' in html
    assert 'rel="prev"' not in html


def test_lineage_both_ways(alice, make_job):
    original = make_job(alice, prompt="a cat").outputs.get()
    edit_job = make_job(alice, prompt="the cat in a hat")
    Generation.objects.filter(pk=edit_job.pk).update(edited_from=original)
    edit = edit_job.outputs.get()
    html = alice.client.get(f"{alice.prefix}/images/{edit.pk}/").content.decode()
    assert "Edited from" in html and f'href="{alice.prefix}/images/{original.pk}/"' in html
    html = alice.client.get(f"{alice.prefix}/images/{original.pk}/").content.decode()
    assert "Edits made from it" in html and f'href="{alice.prefix}/images/{edit.pk}/"' in html


def test_another_teams_image_is_not_found(alice, charlie, make_job):
    image = make_job(alice).outputs.get()
    assert charlie.client.get(f"{charlie.prefix}/images/{image.pk}/").status_code == 404


def test_a_deleted_image_is_not_found(alice, make_job):
    image = make_job(alice).outputs.get()
    OutputImage.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    assert alice.client.get(f"{alice.prefix}/images/{image.pk}/").status_code == 404
