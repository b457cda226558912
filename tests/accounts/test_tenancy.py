"""Every URL that takes an object id answers 404 for another team's object, and leaves it
untouched. The URLconf is walked, so a new id URL fails
``test_every_id_url_has_an_object_factory`` until it is mapped here."""

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from django.db.models import Model
from django.utils import timezone

from generator import images as imaging
from generator import jobs
from generator.models import InputImage, OutputImage, Source
from pixdash.accounts.teams import create_invitation
from tests.url_walk import routes
from webhooks.deliveries import send_test
from webhooks.endpoints import create_endpoint

# The admin is Django's, for superusers only (see test_admin.py).
EXCLUDED = ("admin/",)


@dataclass
class IdUrl:
    method: str
    # Builds alice's (Acme's) object of the kind the URL takes.
    make: Callable[[SimpleNamespace], Model]
    data: dict | None = None
    # For a URL with more than one id: all of them, from the object (default: its pk).
    ids: Callable[[Model], dict] | None = None

    def kwargs(self, route, obj) -> dict:
        if self.ids is not None:
            return self.ids(obj)
        (keyword,) = route.int_kwargs
        return {keyword: obj.pk}


def _alices_image(w, *, deleted: bool = False) -> OutputImage:
    """A delivered image of alice's team, made by the real pipeline (offline renderer)."""
    spec = jobs.GenerationSpec(model="local-preview", prompt="tenancy", size="256x256")
    submission = jobs.submit(
        team=w.alice.team, spec=spec, source=Source.UI, is_async=False, user=w.alice.user
    )
    async_to_sync(jobs.run_now)(submission)
    generation = submission.generation
    image = OutputImage.objects.get(generation=generation)
    if deleted:
        OutputImage.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    return image


def _alices_endpoint(w):
    return create_endpoint(
        team=w.alice.team,
        url="https://hooks.example.com/tenancy",
        events=["task.completed"],
        created_by=w.alice.user,
    )


def _alices_queued_job(w):
    spec = jobs.GenerationSpec(model="local-preview", prompt="tenancy cancel", size="256x256")
    return jobs.submit(
        team=w.alice.team, spec=spec, source=Source.UI, is_async=False, user=w.alice.user
    ).generation


def _alices_edit_input(w) -> InputImage:
    """A reference image alice sent with an edit (the image of an earlier job)."""
    original = _alices_image(w)
    with original.file.open("rb") as handle:
        reference = imaging.inspect_upload(handle.read(), param="image")
    spec = jobs.GenerationSpec(
        model="local-preview", prompt="tenancy edit", size="256x256", images=(reference,)
    )
    generation = jobs.submit(
        team=w.alice.team, spec=spec, source=Source.UI, is_async=False, user=w.alice.user
    ).generation
    return generation.inputs.get()


# URL name (or route, for an unnamed pattern) -> how to make alice's object for it.
# Only <int:...> ids are walked: /v1 task ids are strings, covered by the generator tests.
ID_URLS: dict[str, IdUrl] = {
    "member_role": IdUrl("post", lambda w: w.bob.membership, {"role": "owner"}),
    "member_remove": IdUrl("post", lambda w: w.bob.membership),
    "invitation_revoke": IdUrl(
        "post",
        lambda w: create_invitation(team=w.alice.team, invited_by=w.alice.user)[0],
    ),
    "key_revoke": IdUrl("post", lambda w: w.alice_key.api_key),
    "key_roll": IdUrl("post", lambda w: w.alice_key.api_key, {"grace": "3600"}),
    "key_rename": IdUrl("post", lambda w: w.alice_key.api_key, {"name": "taken over"}),
    "billing_key_limit": IdUrl("post", lambda w: w.alice_key.api_key, {"limit": "1"}),
    "billing_member_limit": IdUrl("post", lambda w: w.bob.membership, {"limit": "1"}),
    # Generator pages: jobs and gallery images.
    "job_card": IdUrl("get", lambda w: _alices_image(w).generation),
    "job_rerun": IdUrl("post", lambda w: _alices_image(w).generation),
    "job_compare": IdUrl(
        "post", lambda w: _alices_image(w).generation, {"models": ["gemini-2.5-flash-image"]}
    ),
    "job_dismiss": IdUrl("post", lambda w: _alices_image(w).generation),
    "job_cancel": IdUrl("post", lambda w: _alices_queued_job(w)),
    "job_input": IdUrl(
        "get",
        lambda w: _alices_edit_input(w),
        ids=lambda stored: {"pk": stored.generation_id, "input_pk": stored.pk},
    ),
    "image_detail": IdUrl("get", lambda w: _alices_image(w)),
    "image_favourite": IdUrl("post", lambda w: _alices_image(w)),
    "image_delete": IdUrl("post", lambda w: _alices_image(w)),
    "image_restore": IdUrl("post", lambda w: _alices_image(w, deleted=True)),
    "image_original": IdUrl("get", lambda w: _alices_image(w)),
    "image_thumbnail": IdUrl("get", lambda w: _alices_image(w)),
    # Webhooks: endpoints and their deliveries.
    "webhook_toggle": IdUrl("post", lambda w: _alices_endpoint(w)),
    "webhook_test": IdUrl("post", lambda w: _alices_endpoint(w)),
    "webhook_delete": IdUrl("post", lambda w: _alices_endpoint(w)),
    "webhook_redeliver": IdUrl("post", lambda w: send_test(endpoint=_alices_endpoint(w))),
}


@pytest.fixture
def world(alice, bob, alice_key):
    return SimpleNamespace(alice=alice, bob=bob, alice_key=alice_key)


def _id_routes():
    return {route.label: route for route in routes(exclude_prefixes=EXCLUDED) if route.int_kwargs}


def _url(route, team, **kwargs) -> str:
    """Team pages take the team in their address: the requester's, unless told otherwise."""
    if "team_slug" in route.converters:
        kwargs["team_slug"] = team.slug
    return route.url(**kwargs)


def _snapshot(obj: Model) -> dict:
    fresh = type(obj)._default_manager.get(pk=obj.pk)
    return {field.attname: getattr(fresh, field.attname) for field in obj._meta.concrete_fields}


def test_every_id_url_has_an_object_factory(db):
    found = set(_id_routes())
    assert found, "the walker found no id URLs; is it still looking in the right place?"
    missing = found - set(ID_URLS)
    stale = set(ID_URLS) - found
    assert not missing, f"URLs taking an id without a tenancy case in ID_URLS: {sorted(missing)}"
    assert not stale, f"ID_URLS entries for URLs that are gone: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(ID_URLS))
def test_another_teams_object_answers_404_and_stays_untouched(world, charlie, name):
    case = ID_URLS[name]
    route = _id_routes()[name]
    obj = case.make(world)
    before = _snapshot(obj)

    request = getattr(charlie.client, case.method)
    # Through charlie's own team's pages, and through the pages of alice's team, which
    # he is not a member of.
    for team in (charlie.team, world.alice.team):
        response = request(_url(route, team, **case.kwargs(route, obj)), case.data or {})
        assert response.status_code == 404, team
    assert _snapshot(obj) == before


@pytest.mark.parametrize("name", sorted(ID_URLS))
def test_the_same_request_reaches_the_owner_teams_object(world, name):
    """The control for the test above: alice's own request does not 404, so the 404 comes
    from the team check and not from a malformed URL."""
    case = ID_URLS[name]
    route = _id_routes()[name]
    obj = case.make(world)
    request = getattr(world.alice.client, case.method)
    response = request(_url(route, world.alice.team, **case.kwargs(route, obj)), case.data or {})
    assert response.status_code != 404


@pytest.mark.parametrize("name", sorted(ID_URLS))
def test_an_id_beyond_any_row_or_integer_range_answers_404(world, name):
    case = ID_URLS[name]
    route = _id_routes()[name]
    for pk in (2_000_000_000, 10**30):
        ids = dict.fromkeys(route.int_kwargs, pk)
        response = getattr(world.alice.client, case.method)(
            _url(route, world.alice.team, **ids), case.data or {}
        )
        assert response.status_code == 404, pk
