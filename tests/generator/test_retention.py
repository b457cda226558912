"""Retention: team policies, purge after the undo window, pruning; idempotent, counted."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from generator import retention
from generator.models import Generation, InputImage, OutputImage, ProviderCall
from pixdash.core import metrics
from tests.generator.conftest import png_bytes
from tests.ledger_audit import assert_ledger_invariants

LATER = timedelta(days=400)


def _files(image: OutputImage) -> list[str]:
    return [image.file.name, image.thumbnail.name]


def _exists(names) -> list[bool]:
    return [default_storage.exists(name) for name in names]


def test_a_deleted_image_is_purged_only_after_the_undo_window(alice, make_job, settings):
    image = make_job(alice).outputs.get()
    names = _files(image)
    alice.client.post(alice.url("image_delete", image.pk))
    deleted_at = OutputImage.objects.get(pk=image.pk).deleted_at

    inside = retention.apply(now=deleted_at + timedelta(hours=settings.PIXDASH_UNDO_HOURS - 1))
    assert inside.images_purged == 0
    assert _exists(names) == [True, True]

    after = retention.apply(now=deleted_at + timedelta(hours=settings.PIXDASH_UNDO_HOURS + 1))
    assert after.images_purged == 1 and after.files_removed == 2
    assert _exists(names) == [False, False]
    purged = OutputImage.objects.get(pk=image.pk)
    assert purged.purged_at is not None
    assert purged.file.name == "" and purged.thumbnail.name == ""
    assert_ledger_invariants()  # the row stays: delivered and charged images still add up


def test_purged_images_answer_404_everywhere_and_cannot_be_restored(alice, make_job):
    from generator import media

    image = make_job(alice).outputs.get()
    signed = media.signed_path(image)
    alice.client.post(alice.url("image_delete", image.pk))
    retention.apply(now=timezone.now() + LATER)

    assert alice.client.get(signed).status_code == 404
    assert alice.client.get(f"/images/{image.pk}/original").status_code == 404
    assert alice.client.get(f"/images/{image.pk}/thumbnail").status_code == 404
    assert alice.client.post(alice.url("image_restore", image.pk)).status_code == 404


def test_running_twice_does_nothing_the_second_time(alice, make_job):
    image = make_job(alice).outputs.get()
    alice.client.post(alice.url("image_delete", image.pk))
    now = timezone.now() + LATER

    assert retention.apply(now=now).images_purged == 1
    second = retention.apply(now=now)

    assert second == retention.RetentionReport()


def test_a_run_that_crashed_after_claiming_finishes_the_next_time(alice, make_job, monkeypatch):
    image = make_job(alice).outputs.get()
    names = _files(image)
    alice.client.post(alice.url("image_delete", image.pk))

    def crash(_names):
        raise RuntimeError("storage went away")

    monkeypatch.setattr(retention, "_remove_files", crash)
    with pytest.raises(RuntimeError):
        retention.apply(now=timezone.now() + LATER)
    monkeypatch.undo()
    assert _exists(names) == [True, True]

    report = retention.apply(now=timezone.now() + LATER)

    assert report.images_purged == 0 and report.files_removed == 2  # claimed by the crash
    assert _exists(names) == [False, False]


def test_a_team_policy_deletes_old_images_but_keeps_favourites(alice, charlie, make_job):
    alice.team.image_retention_days = 30
    alice.team.save()
    old, favourite = make_job(alice, n=2).outputs.order_by("index")
    OutputImage.objects.filter(pk=favourite.pk).update(favourite=True)
    other_team = make_job(charlie).outputs.get()  # charlie keeps everything (no policy)
    in_31_days = timezone.now() + timedelta(days=31)

    report = retention.apply(now=in_31_days)

    assert report.images_expired == 1
    assert OutputImage.objects.get(pk=old.pk).deleted_at == in_31_days
    assert OutputImage.objects.get(pk=favourite.pk).deleted_at is None
    assert OutputImage.objects.get(pk=other_team.pk).deleted_at is None
    # Expired images get the same undo window as deleted ones, then their files go.
    later = retention.apply(now=in_31_days + timedelta(days=2))
    assert later.images_purged == 1
    assert _exists(_files(old)) == [False, False]
    assert _exists(_files(favourite)) == [True, True]


def test_new_teams_start_with_the_operators_default_policy(settings, db):
    from pixdash.accounts.teams import sign_up

    settings.PIXDASH_RETENTION_DAYS = 90
    assert (
        sign_up(
            email="d@x.test", password="pw-pw-pw-pw", name="D"
        ).current_team.image_retention_days
        == 90
    )
    settings.PIXDASH_RETENTION_DAYS = 0
    assert (
        sign_up(
            email="e@x.test", password="pw-pw-pw-pw", name="E"
        ).current_team.image_retention_days
        is None
    )


def test_inputs_of_expired_generations_lose_their_files(alice, alice_key, client, fake_gemini):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("photo.png", png_bytes(80, 60), content_type="image/png")
    client.post(
        "/v1/images/edits",
        {"model": "nano-banana", "prompt": "make it blue", "image": upload},
        headers=alice_key.headers,
    )
    stored = InputImage.objects.get()
    name = stored.file.name
    alice.team.image_retention_days = 7
    alice.team.save()

    assert retention.apply(now=timezone.now() + timedelta(days=6)).inputs_purged == 0
    assert retention.apply(now=timezone.now() + timedelta(days=8)).inputs_purged == 1

    assert not default_storage.exists(name)
    assert InputImage.objects.get(pk=stored.pk).file.name == ""


def test_old_provider_calls_and_idempotency_keys_are_pruned(alice, make_job, settings):
    now = timezone.now()
    ProviderCall.objects.create(provider="gemini", model="m", ok=True, latency_ms=5)
    ProviderCall.objects.create(
        provider="gemini",
        model="m",
        ok=True,
        latency_ms=5,
        created_at=now - timedelta(days=settings.PIXDASH_PROVIDER_CALL_DAYS + 1),
    )
    job = make_job(alice)
    Generation.objects.filter(pk=job.pk).update(
        idempotency_key="k1", created_at=now - timedelta(hours=25)
    )

    report = retention.apply(now=now)

    assert report.provider_calls_pruned == 1
    cutoff = now - timedelta(days=settings.PIXDASH_PROVIDER_CALL_DAYS)
    assert not ProviderCall.objects.filter(created_at__lt=cutoff).exists()
    assert ProviderCall.objects.exists()  # recent calls stay
    assert report.idempotency_keys_pruned == 1
    assert Generation.objects.get(pk=job.pk).idempotency_key is None


def test_what_it_did_is_counted_in_the_metrics(alice, make_job):
    def counted() -> float:
        return metrics.RETENTION_ACTIONS.labels("images_purged")._value.get()

    image = make_job(alice).outputs.get()
    alice.client.post(alice.url("image_delete", image.pk))
    before = counted()

    retention.apply(now=timezone.now() + LATER)

    assert counted() == before + 1


def test_the_beat_task_runs_it(alice, make_job):
    from generator.tasks import apply_retention

    image = make_job(alice).outputs.get()
    alice.client.post(alice.url("image_delete", image.pk))
    OutputImage.objects.filter(pk=image.pk).update(deleted_at=timezone.now() - timedelta(days=30))

    assert apply_retention.apply().get()["images_purged"] == 1
