"""GET /gallery/: the team's images, filters, prompt search, keyset infinite scroll."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generator import gallery
from generator.models import OutputImage, Source

HX = {"HX-Request": "true"}


def ids_in(html: str, images) -> list[int]:
    return [image.pk for image in images if f'id="image-{image.pk}"' in html]


def test_it_lists_the_teams_images_newest_first(alice, bob, make_job):
    older = make_job(alice, prompt="an old barn").outputs.get()
    newer = make_job(bob, prompt="a new tower").outputs.get()
    html = alice.client.get(f"{alice.prefix}/gallery/").content.decode()
    assert html.index(f'id="image-{newer.pk}"') < html.index(f'id="image-{older.pk}"')
    assert 'loading="lazy"' in html
    assert 'alt="a new tower"' in html


def test_another_teams_images_never_show(alice, charlie, make_job):
    theirs = make_job(alice).outputs.get()
    html = charlie.client.get(f"{charlie.prefix}/gallery/").content.decode()
    assert f'id="image-{theirs.pk}"' not in html
    assert "The gallery is empty." in html
    assert "Try the generator" in html and "Create an API key" in html
    # Credits come from the billing page.
    assert f'href="{charlie.prefix}/billing/">add credits' in html
    # A cursor from another team finds nothing rather than leaking a position.
    page = charlie.client.get(f"{charlie.prefix}/gallery/", {"after": theirs.pk}, headers=HX)
    assert page.status_code == 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "TOWER"}, {"tower"}),
        ({"model": "local-preview"}, {"free"}),
        ({"favourites": "on"}, {"barn"}),
        ({"source": Source.API}, {"api"}),
        ({"source": Source.UI}, {"barn", "tower", "free"}),
    ],
)
def test_filters(alice, bob, alice_key, make_job, query, expected):
    made = {
        "barn": make_job(alice, prompt="an old barn"),
        "tower": make_job(bob, prompt="a new tower"),
        "free": make_job(alice, prompt="free one", model="local-preview"),
        "api": make_job(alice, prompt="by key", source=Source.API, api_key=alice_key.api_key),
    }
    OutputImage.objects.filter(generation=made["barn"]).update(favourite=True)
    html = alice.client.get(f"{alice.prefix}/gallery/", query).content.decode()
    shown = {name for name, job in made.items() if f'id="image-{job.outputs.get().pk}"' in html}
    assert shown == expected


def test_member_and_date_filters(alice, bob, make_job):
    mine = make_job(alice).outputs.get()
    bobs = make_job(bob).outputs.get()
    OutputImage.objects.filter(pk=bobs.pk).update(created_at=timezone.now() - timedelta(days=10))
    html = alice.client.get(f"{alice.prefix}/gallery/", {"member": bob.user.pk}).content.decode()
    assert ids_in(html, [mine, bobs]) == [bobs.pk]
    since = (timezone.now() - timedelta(days=2)).date().isoformat()
    html = alice.client.get(f"{alice.prefix}/gallery/", {"since": since}).content.decode()
    assert ids_in(html, [mine, bobs]) == [mine.pk]


def test_pages_follow_the_keyset_and_the_htmx_page_is_a_fragment(alice, make_job, monkeypatch):
    monkeypatch.setattr(gallery, "PAGE_SIZE", 2)
    images = [make_job(alice, prompt=f"picture {i}").outputs.get() for i in range(5)]
    # Same timestamp for all: the id breaks the tie.
    OutputImage.objects.update(created_at=timezone.now())
    images.reverse()
    first = alice.client.get(f"{alice.prefix}/gallery/").content.decode()
    assert ids_in(first, images) == [images[0].pk, images[1].pk]
    assert f"after={images[1].pk}" in first
    assert 'hx-trigger="revealed"' in first

    second = alice.client.get(f"{alice.prefix}/gallery/", {"after": images[1].pk}, headers=HX)
    html = second.content.decode()
    assert "<html" not in html
    assert ids_in(html, images) == [images[2].pk, images[3].pk]
    third = alice.client.get(
        f"{alice.prefix}/gallery/", {"after": images[3].pk}, headers=HX
    ).content.decode()
    assert ids_in(third, images) == [images[4].pk]
    assert "revealed" not in third


def test_filtering_with_htmx_swaps_only_the_results(alice, make_job):
    make_job(alice, prompt="a tower")
    response = alice.client.get(
        f"{alice.prefix}/gallery/",
        {"q": "nothing like it"},
        headers={**HX, "HX-Target": "gallery-results"},
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="gallery-results"' in html
    assert "No images match these filters." in html


def test_deleted_images_are_hidden_and_the_undo_toast_shows(alice, make_job):
    image = make_job(alice).outputs.get()
    OutputImage.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    html = alice.client.get(f"{alice.prefix}/gallery/", {"deleted": image.pk}).content.decode()
    assert f'id="image-{image.pk}"' not in html
    assert f'action="{alice.prefix}/images/{image.pk}/restore/"' in html


def test_pages_vary_on_htmx_so_back_never_shows_a_fragment(alice, make_job):
    make_job(alice)
    full = alice.client.get(f"{alice.prefix}/gallery/", {"q": "lighthouse"})
    fragment = alice.client.get(
        f"{alice.prefix}/gallery/",
        {"q": "lighthouse"},
        headers={**HX, "HX-Target": "gallery-results"},
    )
    assert "HX-Request" in full["Vary"] and "HX-Request" in fragment["Vary"]
    assert "<nav" in full.content.decode() and "<nav" not in fragment.content.decode()


def test_a_history_restore_gets_the_whole_page(alice, make_job):
    make_job(alice)
    restore = {**HX, "HX-History-Restore-Request": "true", "HX-Target": "gallery-results"}
    html = alice.client.get(f"{alice.prefix}/gallery/", {"q": "x"}, headers=restore).content
    assert b"<nav" in html and b'role="search"' in html


def test_tiles_keep_the_images_aspect_ratio(alice, make_job):
    make_job(alice, size="16:9")
    html = alice.client.get(f"{alice.prefix}/gallery/").content.decode()
    assert 'style="--w: 1344; --h: 768"' in html
