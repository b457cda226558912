"""CSRF on every dashboard POST: without the token → 403 and nothing happens; with it
the same request goes through.

The POST URLs are found by walking the URLconf, so a new one fails
``test_every_dashboard_post_url_has_a_csrf_case`` until it gets a case here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from billing.models import BillingSettings, MemberLimit, RedeemBatch
from billing.topups import generate_codes
from generator import jobs
from generator.models import Generation, OutputImage, Source
from pixdash.accounts.models import ApiKey, Invitation, Membership, Role, Team, User
from pixdash.accounts.teams import create_invitation, create_team, switch_team
from tests.conftest import PASSWORD
from tests.url_walk import routes
from webhooks import deliveries, endpoints
from webhooks.models import WebhookDelivery, WebhookEndpoint

# /admin/ is Django's own (CSRF-protected) app; /v1/ takes bearer keys, not cookies.
EXCLUDED = ("admin/", "v1/")
NEW_PASSWORD = "another long passphrase 77"


@dataclass
class Post:
    url: str
    data: dict
    # True once the POST took effect; None for a view that changes nothing.
    done: Callable[[], bool] | None


def _reloaded(user: User) -> User:
    return User.objects.get(pk=user.pk)


def _generate(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("generate"),
        {"prompt": "csrf-check", "model": "local-preview", "n": 1},
        lambda: Generation.objects.filter(prompt="csrf-check").exists(),
    )


def _alices_image(w) -> OutputImage:
    """A delivered image of alice's team, made by the real pipeline (offline renderer)."""
    spec = jobs.GenerationSpec(model="local-preview", prompt="csrf image", size="256x256")
    submission = jobs.submit(
        team=w.alice.team, spec=spec, source=Source.UI, is_async=False, user=w.alice.user
    )
    async_to_sync(jobs.run_now)(submission)
    generation = submission.generation
    return OutputImage.objects.get(generation=generation)


def _job_rerun(client, w):
    image = _alices_image(w)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("job_rerun", image.generation_id),
        {},
        lambda: Generation.objects.filter(prompt="csrf image").count() == 2,
    )


def _job_compare(client, w):
    image = _alices_image(w)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("job_compare", image.generation_id),
        {"models": ["gemini-2.5-flash-image"]},
        lambda: Generation.objects.filter(prompt="csrf image").count() == 2,
    )


def _image_favourite(client, w):
    image = _alices_image(w)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("image_favourite", image.pk),
        {},
        lambda: OutputImage.objects.get(pk=image.pk).favourite,
    )


def _image_delete(client, w):
    image = _alices_image(w)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("image_delete", image.pk),
        {},
        lambda: OutputImage.objects.get(pk=image.pk).deleted_at is not None,
    )


def _image_restore(client, w):
    image = _alices_image(w)
    OutputImage.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("image_restore", image.pk),
        {},
        lambda: OutputImage.objects.get(pk=image.pk).deleted_at is None,
    )


def _jobs_clear(client, w):
    _alices_image(w)
    client.force_login(w.alice.user)
    key = f"pixdash.jobs_cleared.{w.alice.team.pk}"
    return Post(w.alice.url("jobs_clear"), {}, lambda: key in client.session)


def _job_cancel(client, w):
    spec = jobs.GenerationSpec(model="local-preview", prompt="csrf cancel", size="256x256")
    generation = jobs.submit(  # queued, as the generator page queues it
        team=w.alice.team, spec=spec, source=Source.UI, is_async=True, user=w.alice.user
    ).generation
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("job_cancel", generation.pk),
        {},
        lambda: Generation.objects.get(pk=generation.pk).status == "canceled",
    )


def _job_dismiss(client, w):
    image = _alices_image(w)
    client.force_login(w.alice.user)
    key = f"pixdash.jobs_cleared.{w.alice.team.pk}"
    return Post(
        w.alice.url("job_dismiss", image.generation_id),
        {},
        lambda: image.generation_id in (client.session.get(key) or {}).get("ids", []),
    )


def _images_bulk(client, w):
    image = _alices_image(w)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("images_bulk"),
        {"action": "favourite", "ids": [image.pk]},
        lambda: OutputImage.objects.get(pk=image.pk).favourite,
    )


def _images_restore_many(client, w):
    image = _alices_image(w)
    OutputImage.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    client.force_login(w.alice.user)
    session = client.session
    session[f"pixdash.deleted.{w.alice.team.pk}"] = [image.pk]
    session.save()
    return Post(
        w.alice.url("images_restore_many"),
        {},
        lambda: OutputImage.objects.get(pk=image.pk).deleted_at is None,
    )


def _signup(client, w):
    return Post(
        reverse("signup"),
        {"email": "dana@example.test", "password": "a long and unusual passphrase 42"},
        lambda: User.objects.filter(email="dana@example.test").exists(),
    )


def _login(client, w):
    return Post(
        reverse("login"),
        {"username": "alice@acme.test", "password": PASSWORD},
        lambda: client.session.get("_auth_user_id") == str(w.alice.user.pk),
    )


def _logout(client, w):
    client.force_login(w.alice.user)
    return Post(reverse("logout"), {}, lambda: "_auth_user_id" not in client.session)


def _password_change(client, w):
    client.force_login(w.alice.user)
    return Post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        lambda: _reloaded(w.alice.user).check_password(NEW_PASSWORD),
    )


def _password_reset(client, w):
    return Post(reverse("password_reset"), {"email": "alice@acme.test"}, lambda: bool(mail.outbox))


def _password_reset_confirm(client, w):
    uid = urlsafe_base64_encode(force_bytes(w.alice.user.pk))
    token = default_token_generator.make_token(w.alice.user)
    # The e-mailed link moves the token into the session and redirects to the form.
    form_url = client.get(reverse("password_reset_confirm", args=[uid, token]))["Location"]
    return Post(
        form_url,
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        lambda: _reloaded(w.alice.user).check_password(NEW_PASSWORD),
    )


def _team_rename(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("team_rename"),
        {"name": "Renamed"},
        lambda: Team.objects.get(pk=w.alice.team.pk).name == "Renamed",
    )


def _team_retention(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("team_retention"),
        {"days": "30"},
        lambda: Team.objects.get(pk=w.alice.team.pk).image_retention_days == 30,
    )


def _team_leave(client, w):
    client.force_login(w.bob.user)
    return Post(
        w.alice.url("team_leave"),
        {},
        lambda: not Membership.objects.filter(pk=w.bob.membership.pk).exists(),
    )


def _member_role(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("member_role", w.bob.membership.pk),
        {"role": Role.ADMIN},
        lambda: Membership.objects.get(pk=w.bob.membership.pk).role == Role.ADMIN,
    )


def _member_remove(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("member_remove", w.bob.membership.pk),
        {},
        lambda: not Membership.objects.filter(pk=w.bob.membership.pk).exists(),
    )


def _invitation_create(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("invitation_create"),
        {"email": "", "role": Role.MEMBER},
        lambda: Invitation.objects.filter(team=w.alice.team).exists(),
    )


def _invitation_revoke(client, w):
    invitation, _token = create_invitation(team=w.alice.team, invited_by=w.alice.user)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("invitation_revoke", invitation.pk),
        {},
        lambda: Invitation.objects.get(pk=invitation.pk).status == "revoked",
    )


def _invitation_accept(client, w):
    _invitation, token = create_invitation(team=w.alice.team, invited_by=w.alice.user)
    client.force_login(w.charlie.user)
    return Post(
        reverse("invitation_accept", args=[token]),
        {},
        lambda: Membership.objects.filter(team=w.alice.team, user=w.charlie.user).exists(),
    )


def _teams(client, w):
    client.force_login(w.alice.user)
    return Post(
        reverse("teams"),
        {"name": "Side project"},
        lambda: Team.objects.filter(name="Side project").exists(),
    )


def _team_switch(client, w):
    side = create_team(owner=w.alice.user, name="Side project")
    switch_team(user=w.alice.user, team=w.alice.team)
    client.force_login(w.alice.user)
    return Post(
        reverse("team_switch"),
        {"team": side.pk},
        lambda: _reloaded(w.alice.user).current_team == side,
    )


def _key_create(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("key_create"),
        {"name": "csrf-check", "scopes": ["images:generate"]},
        lambda: ApiKey.objects.filter(name="csrf-check").exists(),
    )


def _key_revoke(client, w):
    client.force_login(w.alice.user)
    key = w.alice_key.api_key
    return Post(
        w.alice.url("key_revoke", key.pk),
        {},
        lambda: ApiKey.objects.get(pk=key.pk).status == "revoked",
    )


def _key_roll(client, w):
    client.force_login(w.alice.user)
    key = w.alice_key.api_key
    return Post(
        w.alice.url("key_roll", key.pk),
        {"grace": "3600"},
        lambda: ApiKey.objects.filter(rolled_from=key).exists(),
    )


def _key_rename(client, w):
    key = w.alice_key.api_key
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("key_rename", key.pk),
        {"name": "renamed"},
        lambda: ApiKey.objects.get(pk=key.pk).name == "renamed",
    )


def _billing_redeem(client, w):
    batch = RedeemBatch.objects.create(name="csrf", credits=5, uses_per_code=1, count=1)
    (code,) = generate_codes(batch)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("billing_redeem"),
        {"code": code},
        lambda: w.alice.team.redemptions.exists(),
    )


def _billing_threshold(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("billing_threshold"),
        {"threshold": "25"},
        lambda: BillingSettings.objects.filter(
            team=w.alice.team, low_balance_threshold=25
        ).exists(),
    )


def _billing_checkout(client, w):
    # Without Stripe configured the view only says so: nothing to take effect.
    client.force_login(w.alice.user)
    return Post(w.alice.url("billing_checkout"), {"credits": "500"}, None)


def _billing_key_limit(client, w):
    client.force_login(w.alice.user)
    key = w.alice_key.api_key
    return Post(
        w.alice.url("billing_key_limit", key.pk),
        {"limit": "42"},
        lambda: ApiKey.objects.get(pk=key.pk).monthly_credit_limit == 42,
    )


def _billing_member_limit(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("billing_member_limit", w.bob.membership.pk),
        {"limit": "7"},
        lambda: MemberLimit.objects.filter(user=w.bob.user, monthly_credit_limit=7).exists(),
    )


def _alices_endpoint(w):
    return endpoints.create_endpoint(
        team=w.alice.team,
        url="https://hooks.example.com/csrf",
        events=["task.completed"],
        created_by=w.alice.user,
    )


def _webhook_create(client, w):
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("webhook_create"),
        {"url": "https://hooks.example.com/new", "events": ["task.completed"]},
        lambda: WebhookEndpoint.objects.filter(url="https://hooks.example.com/new").exists(),
    )


def _webhook_toggle(client, w):
    endpoint = _alices_endpoint(w)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("webhook_toggle", endpoint.pk),
        {},
        lambda: not WebhookEndpoint.objects.get(pk=endpoint.pk).enabled,
    )


def _webhook_test(client, w):
    endpoint = _alices_endpoint(w)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("webhook_test", endpoint.pk),
        {},
        lambda: WebhookDelivery.objects.filter(endpoint=endpoint).exists(),
    )


def _webhook_delete(client, w):
    endpoint = _alices_endpoint(w)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("webhook_delete", endpoint.pk),
        {},
        lambda: not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists(),
    )


def _webhook_redeliver(client, w):
    delivery = deliveries.send_test(endpoint=_alices_endpoint(w))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=7)
    client.force_login(w.alice.user)
    return Post(
        w.alice.url("webhook_redeliver", delivery.pk),
        {},
        lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "pending",
    )


CASES: dict[str, Callable[[Client, SimpleNamespace], Post]] = {
    "generate": _generate,
    "job_rerun": _job_rerun,
    "job_compare": _job_compare,
    "image_favourite": _image_favourite,
    "image_delete": _image_delete,
    "image_restore": _image_restore,
    "jobs_clear": _jobs_clear,
    "job_cancel": _job_cancel,
    "job_dismiss": _job_dismiss,
    "images_bulk": _images_bulk,
    "images_restore_many": _images_restore_many,
    "signup": _signup,
    "login": _login,
    "logout": _logout,
    "password_change": _password_change,
    "password_reset": _password_reset,
    "password_reset_confirm": _password_reset_confirm,
    "team_rename": _team_rename,
    "team_retention": _team_retention,
    "team_leave": _team_leave,
    "member_role": _member_role,
    "member_remove": _member_remove,
    "invitation_create": _invitation_create,
    "invitation_revoke": _invitation_revoke,
    "invitation_accept": _invitation_accept,
    "teams": _teams,
    "team_switch": _team_switch,
    "key_create": _key_create,
    "key_rename": _key_rename,
    "key_revoke": _key_revoke,
    "key_roll": _key_roll,
    "billing_redeem": _billing_redeem,
    "billing_threshold": _billing_threshold,
    "billing_checkout": _billing_checkout,
    "billing_key_limit": _billing_key_limit,
    "billing_member_limit": _billing_member_limit,
    "webhook_create": _webhook_create,
    "webhook_toggle": _webhook_toggle,
    "webhook_test": _webhook_test,
    "webhook_delete": _webhook_delete,
    "webhook_redeliver": _webhook_redeliver,
}

# POST URLs that are csrf_exempt because a cookie does not authenticate them: each must
# refuse a browser's cookie-only POST on its own (test below) and has its own test file.
NOT_COOKIE_AUTHENTICATED = {
    # Stripe signs the raw body; see tests/billing/test_stripe_webhook.py.
    "stripe_webhook": "tests/billing/test_stripe_webhook.py",
}


@pytest.fixture
def world(alice, bob, charlie, alice_key):
    return SimpleNamespace(alice=alice, bob=bob, charlie=charlie, alice_key=alice_key)


def _csrf_token(client: Client) -> str:
    """The token a real page hands this browser (the form field and the htmx header)."""
    client.get(reverse("password_reset"))
    return client.cookies["csrftoken"].value


def test_every_dashboard_post_url_has_a_csrf_case(alice):
    """POST to each dashboard URL (CSRF not enforced); whatever does not answer 405
    takes POSTs and needs a case in CASES."""
    takes_post = set()
    for route in routes(exclude_prefixes=EXCLUDED):
        client = Client()
        client.force_login(alice.user)
        if client.post(route.url()).status_code != 405:
            takes_post.add(route.label)
    missing = takes_post - set(CASES) - set(NOT_COOKIE_AUTHENTICATED)
    stale = (set(CASES) | set(NOT_COOKIE_AUTHENTICATED)) - takes_post
    assert not missing, f"POST URLs without a CSRF case; add them to CASES: {sorted(missing)}"
    assert not stale, f"CASES for URLs that no longer take POST: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_post_without_the_token_is_refused_and_the_same_post_with_it_goes_through(world, name):
    client = Client(enforce_csrf_checks=True)
    post = CASES[name](client, world)
    token = _csrf_token(client)

    refused = client.post(post.url, post.data)
    assert refused.status_code == 403
    if post.done is not None:
        assert not post.done()

    accepted = client.post(post.url, {**post.data, "csrfmiddlewaretoken": token})
    assert accepted.status_code < 400
    if post.done is not None:
        assert post.done()


@pytest.mark.parametrize("name", sorted(NOT_COOKIE_AUTHENTICATED))
def test_csrf_exempt_urls_refuse_a_signed_in_browsers_post(world, settings, name):
    """A forged cross-site POST rides on the victim's cookies; these URLs ignore cookies,
    so it gets nothing, configured or not."""
    for secret in ("", "whsec_test_secret"):
        settings.STRIPE_WEBHOOK_SECRET = secret
        client = Client(enforce_csrf_checks=True)
        client.force_login(w := world.alice.user)
        response = client.post(reverse(name), {"type": "checkout.session.completed"})
        assert response.status_code in (400, 503), (secret, response.status_code)
        assert w.is_authenticated


def test_a_token_from_another_browser_is_refused(world):
    other = Client(enforce_csrf_checks=True)
    other_token = _csrf_token(other)

    client = Client(enforce_csrf_checks=True)
    post = _key_create(client, world)
    _csrf_token(client)
    response = client.post(post.url, {**post.data, "csrfmiddlewaretoken": other_token})
    assert response.status_code == 403
    assert not post.done()


def test_htmx_requests_pass_with_the_token_in_the_header(world):
    client = Client(enforce_csrf_checks=True)
    post = _key_revoke(client, world)
    page = client.get(world.alice.url("keys")).content.decode()
    token = client.cookies["csrftoken"].value
    assert 'hx-headers=\'{"X-CSRFToken": "' in page

    refused = client.post(post.url, headers={"HX-Request": "true"})
    assert refused.status_code == 403
    assert not post.done()

    response = client.post(post.url, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert post.done()
