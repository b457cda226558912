"""jobs.resubmit: run a finished job's request again, on its model or another, with
everything that shaped it: output format, quality, background, references and mask."""

from decimal import Decimal

import pytest

from billing import ledger
from generator import images as imaging
from generator import jobs
from generator.models import Generation, InputImage, Source
from tests.generator.conftest import png_bytes


def _upload(width=32, height=32, color=(10, 200, 30)):
    return imaging.inspect_upload(png_bytes(width, height, color), param="image")


@pytest.fixture
def edit_job(alice, ui_queue, fake_gemini):
    spec = jobs.GenerationSpec(
        model="gpt-image-1.5",
        prompt="blue door",
        n=2,
        size="1024x1536",
        quality="high",
        output_format="webp",
        background="transparent",
        images=(_upload(), _upload(color=(1, 2, 3))),
        mask=_upload(),
    )
    return jobs.submit(
        team=alice.team, spec=spec, source=Source.API, is_async=True, user=alice.user
    ).generation


def test_it_keeps_every_option_the_job_was_made_with(alice, edit_job):
    again = jobs.resubmit(generation=edit_job, user=alice.user).generation
    assert again.pk != edit_job.pk
    for field in ("prompt", "n", "size", "aspect_ratio", "quality", "output_format", "background"):
        assert getattr(again, field) == getattr(edit_job, field), field
    assert again.source == Source.UI and again.user == alice.user
    old = list(edit_job.inputs.order_by("role", "position").values_list("role", "sha256"))
    new = list(again.inputs.order_by("role", "position").values_list("role", "sha256"))
    assert new == old and ("mask", old[-1][1]) in new


def test_on_another_model_the_size_asked_for_is_mapped_again(alice, ui_queue, fake_gemini):
    spec = jobs.GenerationSpec(model="gemini-2.5-flash-image", prompt="wide", size="16:9")
    first = jobs.submit(
        team=alice.team, spec=spec, source=Source.UI, is_async=True, user=alice.user
    ).generation
    again = jobs.resubmit(generation=first, user=alice.user, model="gpt-image-1.5").generation
    assert (again.image_model.public_id, again.aspect_ratio) == ("gpt-image-1.5", "3:2")


def test_it_holds_and_refuses_like_any_submit(alice, edit_job):
    ledger.hold(team=alice.team, amount=ledger.balance(alice.team), reference="all of it")
    with pytest.raises(ledger.InsufficientCredits):
        jobs.resubmit(generation=edit_job, user=alice.user)
    assert Generation.objects.count() == 1
    assert InputImage.objects.filter(generation=edit_job).count() == 3
    assert ledger.balance(alice.team) == Decimal("0")
