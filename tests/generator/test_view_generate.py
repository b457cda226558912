"""The generator page (/ and /generate/): model picker, live cost, submit through jobs.submit."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from billing import ledger
from generator.models import Generation, ImageModel, InputImage, Source, Status
from pixdash.accounts.teams import sign_up
from tests.generator.conftest import png_bytes

HX = {"HX-Request": "true"}


def post(person, **fields):
    data = {"prompt": "a lighthouse at dusk", "model": "gemini-2.5-flash-image", "n": 1}
    data.update(fields)
    return person.client.post(f"{person.prefix}/generate/", data)


def test_home_is_the_generator_for_signed_in_users(alice):
    response = alice.client.get(f"{alice.prefix}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Generate images" in page
    assert 'aria-current="page">Generate</a>' in page
    # Every enabled model, with its price; the cost line for the default choice.
    assert "Nano Banana Pro" in page and "8 credits" in page
    assert 'data-testid="cost-total">2 credits</strong>' in page
    assert "balance 100" in page


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_demo_models_are_badged_and_the_demo_banner_shows(alice, settings):
    settings.PIXDASH_DEMO_MODE = True
    page = alice.client.get(f"{alice.prefix}/").content.decode()
    assert "Demo mode." in page
    assert 'class="badge badge-demo">Demo</span>' in page


def test_without_demo_mode_unconfigured_models_are_greyed_out_with_the_reason(alice, settings):
    settings.PIXDASH_DEMO_MODE = False
    page = alice.client.get(f"{alice.prefix}/").content.decode()
    assert "Demo mode." not in page
    assert "is-unavailable" in page
    assert "No Google Gemini key is configured on this server." in page
    assert 'value="local-preview" checked' in page  # the first usable model


def test_the_cost_partial_multiplies_and_shows_the_balance(alice):
    response = alice.client.get(
        f"{alice.prefix}/generate/cost/",
        {"model": "gemini-3-pro-image-preview", "n": 4},
        headers=HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "4 images × 8 credits" in html
    assert 'data-testid="cost-total">32 credits</strong>' in html
    assert "balance 100" in html
    assert 'data-blocked="0"' in html


def test_the_submit_button_is_disabled_with_the_reason_when_credits_are_short(db):
    user = sign_up(email="new@example.test", password="a long passphrase 1234", name="New")
    from django.test import Client

    client = Client()
    client.force_login(user)
    prefix = f"/t/{user.current_team.slug}"
    html = client.get(f"{prefix}/generate/cost/", {"model": "nano-banana", "n": 3}, headers=HX)
    html = html.content.decode()
    assert "Not enough credits: 6.00 needed, 0.00 available." in html
    assert 'data-blocked="1"' in html
    assert f'<a href="{prefix}/billing/">Add credits</a>' in html
    page = client.get(f"{prefix}/").content.decode()
    assert "Your team has no credits yet." in page


def test_the_options_partial_lists_the_models_sizes(alice):
    response = alice.client.get(
        f"{alice.prefix}/generate/options/", {"model": "gpt-image-1.5"}, headers=HX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="3:2"' in html and 'value="16:9"' not in html


def test_submitting_starts_an_async_browser_job(alice, ui_queue, fake_gemini):
    response = post(alice, n=2, aspect_ratio="16:9")
    assert response.status_code == 302
    # Back to the generator with the prompt and settings kept for the next try.
    assert response["Location"] == (
        f"{alice.prefix}/?prompt=a+lighthouse+at+dusk&model=gemini-2.5-flash-image&n=2&ratio=16%3A9"
    )
    job = Generation.objects.get(team=alice.team)
    assert (job.source, job.is_async, job.user, job.n) == (Source.UI, True, alice.user, 2)
    assert (job.aspect_ratio, job.width, job.height) == ("16:9", 1344, 768)
    assert ui_queue == [job.pk]
    page = alice.client.get(f"{alice.prefix}/").content.decode()
    assert f'id="job-{job.pk}"' in page
    assert 'hx-trigger="every 1s"' in page


def test_reference_images_are_inspected_and_stored(alice, ui_queue, fake_gemini):
    upload = SimpleUploadedFile("cat.png", png_bytes(40, 30), content_type="image/png")
    assert post(alice, images=[upload], prompt="make it blue").status_code == 302
    job = Generation.objects.get(team=alice.team)
    (stored,) = InputImage.objects.filter(generation=job)
    assert (stored.width, stored.height) == (40, 30)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("page.png", b"<html><body>hi</body></html>", "page.png: it must be a PNG, JPEG or WEBP"),
        ("cut.png", png_bytes(64, 64)[:60], "cut.png:"),
    ],
)
def test_bad_uploads_get_a_readable_error_and_start_nothing(alice, ui_queue, name, data, message):
    upload = SimpleUploadedFile(name, data, content_type="image/png")
    response = post(alice, images=[upload])
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Generation.objects.exists()


def test_a_pixel_bomb_is_refused_before_decoding(alice, ui_queue):
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")
    upload = SimpleUploadedFile("bomb.png", buffer.getvalue(), content_type="image/png")
    response = post(alice, images=[upload])
    assert response.status_code == 400
    assert "megapixels" in response.content.decode()


def test_too_many_reference_images_for_the_model(alice, ui_queue):
    uploads = [
        SimpleUploadedFile(f"{i}.png", png_bytes(), content_type="image/png") for i in range(4)
    ]
    response = post(alice, images=uploads)
    assert response.status_code == 400
    assert "takes at most 3 reference images; you added 4." in response.content.decode()


@pytest.mark.parametrize(("n", "message"), [(0, "at least 1"), (11, "at most 10")])
def test_the_image_count_is_bounded(alice, ui_queue, n, message):
    response = post(alice, n=n)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_empty_prompt_is_explained(alice, ui_queue):
    response = post(alice, prompt="")
    assert response.status_code == 400
    assert "Describe the image you want." in response.content.decode()


def test_insufficient_credits_are_explained_and_nothing_is_held(alice, ui_queue, fake_gemini):
    response = post(alice, model="gemini-3-pro-image-preview", n=10)
    assert response.status_code == 200 or response.status_code == 302  # 80 fits in 100
    response = post(alice, model="gemini-3-pro-image-preview", n=10)
    assert response.status_code == 400
    assert "Not enough credits: 80.00 needed, 20.00 available." in response.content.decode()
    assert Generation.objects.count() == 1


def test_editing_an_image_sends_it_as_reference_and_records_lineage(alice, make_job, ui_queue):
    original = make_job(alice).outputs.get()
    page = alice.client.get(f"{alice.prefix}/", {"edit": original.pk}).content.decode()
    assert "Editing an image" in page
    assert f'value="{original.pk}"' in page

    response = post(alice, edit_from=original.pk, prompt="now at night")
    assert response.status_code == 302
    edit = Generation.objects.exclude(pk=original.generation_id).get()
    assert edit.edited_from == original
    assert edit.inputs.count() == 1
    assert edit.status == Status.SUBMITTED


def test_another_teams_image_cannot_be_edited(alice, charlie, make_job, ui_queue):
    theirs = make_job(alice).outputs.get()
    assert charlie.client.get(f"{charlie.prefix}/", {"edit": theirs.pk}).status_code == 404
    response = post(charlie, edit_from=theirs.pk)
    assert response.status_code == 400
    assert "The image to edit no longer exists." in response.content.decode()
    assert not Generation.objects.filter(team=charlie.team).exists()


def test_the_cost_line_shows_what_is_held_including_a_fallback(alice):
    ImageModel.objects.filter(public_id="gemini-2.5-flash-image").update(
        fallback_models=["gemini-3-pro-image-preview"]
    )
    html = alice.client.get(
        f"{alice.prefix}/generate/cost/", {"model": "gemini-2.5-flash-image", "n": 2}, headers=HX
    ).content.decode()
    assert 'data-testid="cost-total">16 credits</strong>' in html
    assert 'data-hold="16.00"' in html
    assert "costs 2 per image" in html


@pytest.mark.parametrize(
    ("n", "message"),
    [
        ("11", "Ask for at most 10 images at once."),
        ("0", "Ask for at least 1 image."),
        ("", "Ask for 1 to 10 images."),
        ("two", "Ask for 1 to 10 images."),
    ],
)
def test_the_cost_line_says_what_is_wrong_with_the_count_in_the_forms_words(alice, n, message):
    html = alice.client.get(
        f"{alice.prefix}/generate/cost/", {"model": "nano-banana", "n": n}, headers=HX
    ).content.decode()
    assert message in html
    assert "10 images" not in html.replace(message, "")
    assert 'data-blocked="1"' in html


def test_the_options_partial_maps_a_ratio_the_model_lacks_and_says_so(alice):
    html = alice.client.get(
        f"{alice.prefix}/generate/options/",
        {"model": "gpt-image-1.5", "aspect_ratio": "16:9"},
        headers=HX,
    ).content.decode()
    assert 'value="3:2" checked' in html
    assert "GPT Image 1.5 has no 16:9: it will render 3:2" in html


def test_an_htmx_submit_answers_the_new_card_and_keeps_the_form(alice, ui_queue, fake_gemini):
    response = alice.client.post(
        f"{alice.prefix}/generate/",
        {"prompt": "a kite", "model": "gemini-2.5-flash-image", "n": 1, "aspect_ratio": "1:1"},
        headers=HX,
    )
    assert response.status_code == 201
    job = Generation.objects.get(team=alice.team)
    html = response.content.decode()
    assert f'id="job-{job.pk}"' in html
    assert 'id="balance-chip" hx-swap-oob="true"' in html
    assert "<form" not in html.split(f'id="job-{job.pk}"')[0]
    assert response["HX-Trigger"] == "pixdash:refresh-cost"


def test_an_htmx_submit_with_errors_answers_only_the_error_slots(alice, ui_queue):
    response = alice.client.post(
        f"{alice.prefix}/generate/",
        {"prompt": "", "model": "gemini-2.5-flash-image", "n": 11},
        headers=HX,
    )
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#form-errors"
    html = response.content.decode()
    assert 'id="error-prompt" data-for="id_prompt" hx-swap-oob="true"' in html
    assert "Describe the image you want." in html
    assert "Ask for at most 10 images at once." in html
    assert "<textarea" not in html
    assert not Generation.objects.exists()


def test_a_refusal_of_the_pipeline_lands_on_its_field(alice, ui_queue):
    ledger.hold(team=alice.team, amount=Decimal("99"), reference="elsewhere")
    response = alice.client.post(
        f"{alice.prefix}/generate/",
        {"prompt": "x", "model": "gemini-3-pro-image-preview", "n": 1},
        headers=HX,
    )
    assert response.status_code == 422
    assert "Not enough credits" in response.content.decode().split("</div>")[0]


def test_reuse_prefills_an_earlier_jobs_settings_and_references(alice, ui_queue, fake_gemini):
    upload = SimpleUploadedFile("cat.png", png_bytes(40, 30), content_type="image/png")
    post(alice, images=[upload], prompt="a cat in a hat", n=3, aspect_ratio="3:4")
    job = Generation.objects.get()
    (stored,) = job.inputs.all()
    html = alice.client.get(f"{alice.prefix}/", {"reuse": job.pk}).content.decode()
    assert ">a cat in a hat</textarea>" in html
    assert 'value="3" inputmode="numeric"' in html
    assert 'value="3:4" checked' in html
    assert f'name="reuse_inputs" value="{stored.pk}"' in html
    assert f'src="{alice.prefix}/jobs/{job.pk}/inputs/{stored.pk}"' in html
    # Submitting sends the kept reference again.
    response = post(alice, prompt="a cat in a hat", reuse_inputs=[stored.pk])
    assert response.status_code == 302
    again = Generation.objects.exclude(pk=job.pk).get()
    assert again.inputs.get().sha256 == stored.sha256


def test_another_teams_reference_cannot_be_reused(alice, charlie, ui_queue, fake_gemini):
    upload = SimpleUploadedFile("cat.png", png_bytes(40, 30), content_type="image/png")
    post(alice, images=[upload])
    (stored,) = Generation.objects.get().inputs.all()
    html = charlie.client.get(f"{charlie.prefix}/", {"reuse": stored.generation_id}).content
    assert b"reuse_inputs" not in html
    response = post(charlie, reuse_inputs=[stored.pk])
    assert response.status_code == 400
    assert "no longer exists" in response.content.decode()
    assert Generation.objects.count() == 1
