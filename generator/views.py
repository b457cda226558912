"""The browser's generator, job, compare, gallery and models pages.

Every submission goes through jobs.submit (source=UI, async): the same pipeline, holds and
charges as the API. Each view scopes its objects to ``request.team`` through the access
helpers below, so another team's ids answer 404.
"""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import ledger
from billing.ledger import InsufficientCredits
from generator import catalog, gallery, images, jobs, snippets
from generator.forms import CompareForm, GalleryFilterForm, GenerateForm, model_choices
from generator.models import Generation, ImageModel, OutputImage, Source
from generator.providers.registry import availability
from pixdash.accounts.access import team_required
from pixdash.accounts.models import User

RECENT_JOBS = 8
MAX_COMPARE = 4


# --- Access helpers ------------------------------------------------------------------


def _get_generation_for_team(request, pk: int) -> Generation:
    return get_object_or_404(
        Generation.objects.select_related("image_model", "user", "api_key"),
        team=request.team,
        pk=pk,
    )


def _get_image_for_team(request, pk: int, *, deleted: bool = False) -> OutputImage:
    images_ = OutputImage.objects.select_related("generation__image_model", "generation__user")
    # Purged images (files removed after the undo window) can no longer be restored.
    return get_object_or_404(
        images_, team=request.team, pk=pk, deleted_at__isnull=not deleted, purged_at__isnull=True
    )


def billing_url(request) -> str:
    return reverse("billing", args=[request.team.slug])


def _base_url(request) -> str:
    return f"{request.scheme}://{request.get_host()}/v1"


# --- Generator page ------------------------------------------------------------------


def _generator_context(request, form: GenerateForm) -> dict:
    models = list(form.models.values())
    image_model = form.image_model or _default_model(models)
    jobs_ = (
        Generation.objects.filter(team=request.team, user=request.user, source=Source.UI)
        .select_related("image_model")
        .prefetch_related(
            Prefetch(
                "outputs",
                OutputImage.objects.filter(deleted_at__isnull=True).order_by("index"),
                to_attr="visible_outputs",
            )
        )[:RECENT_JOBS]
    )
    return {
        "form": form,
        "models": models,
        "selected": image_model,
        "demo": any(m.availability == "demo" for m in models),
        "jobs": jobs_,
        "edited_from": form.edited_from,
        **_cost(request, image_model, _int(form["n"].value(), 1), form["aspect_ratio"].value()),
    }


def _default_model(models: list[ImageModel]) -> ImageModel | None:
    usable = [m for m in models if m.availability != "unavailable"]
    return usable[0] if usable else (models[0] if models else None)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _cost(request, image_model: ImageModel | None, n: int, ratio: str | None) -> dict:
    """The live cost line and whether the submit button may be pressed (and if not, why)."""
    balance = ledger.balance(request.team)
    n = min(max(n, 1), 10)
    total = image_model.price_for(n) if image_model else 0
    blocked = ""
    if image_model is None:
        blocked = "No model is available on this server."
    elif image_model.availability == "unavailable":
        blocked = f"{image_model.display_name} is unavailable on this server."
    elif total > balance:
        blocked = f"Not enough credits: {total:.2f} needed, {balance:.2f} available."
    ratio = ratio if image_model and ratio in image_model.sizes else None
    if image_model and ratio is None:
        ratio = image_model.default_aspect_ratio
    return {
        "n": n,
        "total": total,
        "balance": balance,
        "blocked": blocked,
        "ratio": ratio,
        "billing_url": billing_url(request),
    }


@require_http_methods(["GET", "POST"])
@team_required
def generate(request):
    models = model_choices()
    if request.method == "GET":
        form = GenerateForm(initial=_initial(request, models), team=request.team, models=models)
        if form.initial.get("edit_from"):
            form.edited_from = _get_image_for_team(request, form.initial["edit_from"])
        return render(request, "generator/generate.html", _generator_context(request, form))
    form = GenerateForm(request.POST, request.FILES, team=request.team, models=models)
    if form.is_valid():
        try:
            jobs.submit(
                team=request.team,
                spec=form.spec(),
                source=Source.UI,
                is_async=True,
                user=request.user,
                edited_from=form.edited_from,
            )
        except (jobs.JobError, InsufficientCredits) as error:
            form.add_error(None, getattr(error, "message", str(error)))
        else:
            messages.success(request, "Started. Your images appear below as they are made.")
            return redirect("home", request.team.slug)
    context = _generator_context(request, form)
    return render(request, "generator/generate.html", context, status=400)


# A team's landing page is its generator; the form there posts to "generate".
home = require_GET(generate)


def _initial(request, models: list[ImageModel]) -> dict:
    """Prefill from ?model=&prompt=&n=&ratio= (run again, try a model) or ?edit=<image>."""
    names = {m.public_id for m in models}
    default = _default_model(models)
    initial = {"n": 1, "model": default.public_id if default else ""}
    if request.GET.get("model") in names:
        initial["model"] = request.GET["model"]
    initial["prompt"] = request.GET.get("prompt", "")[:32000]
    initial["n"] = min(max(_int(request.GET.get("n"), 1), 1), 10)
    initial["aspect_ratio"] = request.GET.get("ratio", "")
    edit = _int(request.GET.get("edit"), 0)
    if edit:
        initial["edit_from"] = edit
    return initial


@require_GET
@team_required
def generate_cost(request):
    """The cost line and submit button, refreshed when the model or the count changes."""
    models = {m.public_id: m for m in model_choices()}
    image_model = models.get(request.GET.get("model", "")) or _default_model(list(models.values()))
    context = _cost(request, image_model, _int(request.GET.get("n"), 1), request.GET.get("ratio"))
    context["selected"] = image_model
    return render(request, "generator/generate.html#submit-bar", context)


@require_GET
@team_required
def generate_options(request):
    """The size picker and reference-image hint for the chosen model."""
    models = {m.public_id: m for m in model_choices()}
    image_model = models.get(request.GET.get("model", "")) or _default_model(list(models.values()))
    ratio = request.GET.get("aspect_ratio")
    context = {"selected": image_model, **_cost(request, image_model, 1, ratio)}
    return render(request, "generator/generate.html#model-options", context)


# --- Jobs ----------------------------------------------------------------------------


@require_GET
@team_required
def job_card(request, pk: int):
    """One job, polled every second while it runs; 286 tells htmx to stop polling."""
    generation = _get_generation_for_team(request, pk)
    if not request.htmx:
        return redirect(
            f"{reverse('compare', args=[request.team.slug])}?{urlencode({'g': generation.pk})}"
        )
    context = {"job": generation, "outputs": _outputs(generation)}
    response = render(request, "generator/generate.html#job-card", context)
    if generation.is_finished:
        response.status_code = 286
    return response


def _outputs(generation: Generation) -> list[OutputImage]:
    return list(generation.outputs.filter(deleted_at__isnull=True).order_by("index"))


def _resubmit(request, generation: Generation, model: str) -> Generation:
    references = []
    for stored in generation.inputs.filter(role="image").order_by("position"):
        with stored.file.open("rb") as handle:
            references.append(images.inspect_upload(handle.read(), param="image"))
    spec = jobs.GenerationSpec(
        model=model,
        prompt=generation.prompt,
        n=generation.n,
        size=generation.aspect_ratio,
        images=tuple(references),
    )
    return jobs.submit(
        team=request.team,
        spec=spec,
        source=Source.UI,
        is_async=True,
        user=request.user,
        edited_from=generation.edited_from,
    ).generation


@require_POST
@team_required
def job_rerun(request, pk: int):
    generation = _get_generation_for_team(request, pk)
    try:
        _resubmit(request, generation, generation.image_model.public_id)
    except (jobs.JobError, InsufficientCredits) as error:
        messages.error(request, getattr(error, "message", str(error)))
    else:
        messages.success(request, "Running it again. The new job is at the top of the list.")
    return redirect("home", request.team.slug)


@require_POST
@team_required
def job_compare(request, pk: int):
    """Run the same prompt on other models and show the jobs side by side."""
    generation = _get_generation_for_team(request, pk)
    others = _compare_choices(generation)
    form = CompareForm(request.POST, choices=others)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("models", [])))
        return redirect(
            f"{reverse('compare', args=[request.team.slug])}?{urlencode({'g': generation.pk})}"
        )
    started = [generation.pk]
    for model in form.cleaned_data["models"]:
        try:
            started.append(_resubmit(request, generation, model).pk)
        except (jobs.JobError, InsufficientCredits) as error:
            messages.error(request, f"{model}: {getattr(error, 'message', str(error))}")
    return redirect(
        f"{reverse('compare', args=[request.team.slug])}?{urlencode({'g': started}, doseq=True)}"
    )


def _compare_url(request, ids: list[int]) -> str:
    return reverse("compare", args=[request.team.slug], query={"g": ids})


def _compare_choices(generation: Generation) -> list[ImageModel]:
    needs_edit = generation.inputs.exists()
    return [
        m
        for m in model_choices()
        if m.pk != generation.image_model_id
        and m.availability != "unavailable"
        and (m.supports_edit if needs_edit else m.supports_generate)
    ]


@require_GET
@team_required
def compare(request):
    """Several jobs side by side: cost and time per column (2–4 columns, or one job)."""
    ids = [_int(value, 0) for value in request.GET.getlist("g")][:MAX_COMPARE]
    found = {
        g.pk: g
        for g in Generation.objects.filter(team=request.team, pk__in=ids).select_related(
            "image_model", "user"
        )
    }
    if not ids or len(found) != len(set(ids)):
        raise Http404("No such job.")
    columns = [{"job": found[pk], "outputs": _outputs(found[pk])} for pk in ids]
    first = columns[0]["job"]
    context = {
        "columns": columns,
        "first": first,
        "compare_form": CompareForm(choices=_compare_choices(first)),
        "compare_choices": _compare_choices(first),
        "snippets": snippets.for_generation(_base_url(request), first),
    }
    return render(request, "generator/compare.html", context)


# --- Gallery and image detail --------------------------------------------------------


def _filters(request) -> tuple[GalleryFilterForm, gallery.Filters]:
    members = User.objects.filter(memberships__team=request.team).order_by("name", "email")
    form = GalleryFilterForm(request.GET, models=catalog.enabled_models(), members=members)
    if not form.is_valid():
        return form, gallery.Filters()
    data = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
    return form, gallery.Filters(**data)


def _filter_query(request) -> str:
    keep = {k: v for k, v in request.GET.items() if k not in ("after", "deleted") and v}
    return urlencode(keep)


@require_GET
@team_required
def gallery_page(request):
    form, filters = _filters(request)
    after = _int(request.GET.get("after"), 0) or None
    rows, cursor = gallery.page(request.team, filters, after=after)
    context = {
        "form": form,
        "images": rows,
        "cursor": cursor,
        "query": _filter_query(request),
        "filtered": filters != gallery.Filters(),
        "billing_url": billing_url(request),
        "undo": _undo_target(request),
    }
    if request.htmx and after:
        return render(request, "generator/gallery.html#gallery-page", context)
    if request.htmx and request.htmx.target == "gallery-results":
        return render(request, "generator/gallery.html#gallery-results", context)
    return render(request, "generator/gallery.html", context)


def _undo_target(request) -> OutputImage | None:
    pk = _int(request.GET.get("deleted"), 0)
    if not pk:
        return None
    return OutputImage.objects.filter(team=request.team, pk=pk, deleted_at__isnull=False).first()


@require_GET
@team_required
def image_detail(request, pk: int):
    image = _get_image_for_team(request, pk)
    _form, filters = _filters(request)
    newer, older = gallery.neighbours(request.team, filters, image)
    generation = image.generation
    context = {
        "image": image,
        "job": generation,
        "newer": newer,
        "older": older,
        "query": _filter_query(request),
        "edits": OutputImage.objects.filter(
            team=request.team, deleted_at__isnull=True, generation__edited_from=image
        ).select_related("generation")[:12],
        "snippets": snippets.for_generation(_base_url(request), generation),
        "compare_choices": _compare_choices(generation),
    }
    return render(request, "generator/image.html", context)


@require_POST
@team_required
def image_favourite(request, pk: int):
    image = _get_image_for_team(request, pk)
    image.favourite = not image.favourite
    image.save(update_fields=["favourite"])
    if request.htmx:
        return render(request, "generator/gallery.html#favourite-button", {"image": image})
    return redirect(_back(request, image))


@require_POST
@team_required
def image_delete(request, pk: int):
    image = _get_image_for_team(request, pk)
    image.deleted_at = timezone.now()
    image.save(update_fields=["deleted_at"])
    if request.htmx:
        return render(request, "generator/gallery.html#deleted-tile", {"image": image})
    return redirect(
        f"{reverse('gallery', args=[request.team.slug])}?{urlencode({'deleted': image.pk})}"
    )


@require_POST
@team_required
def image_restore(request, pk: int):
    image = _get_image_for_team(request, pk, deleted=True)
    image.deleted_at = None
    image.save(update_fields=["deleted_at"])
    if request.htmx:
        return render(request, "generator/gallery.html#tile", {"image": image})
    messages.success(request, "Image restored.")
    return redirect("image_detail", request.team.slug, image.pk)


def _back(request, image: OutputImage) -> str:
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return target
    return reverse("image_detail", args=[request.team.slug, image.pk])


# --- Models --------------------------------------------------------------------------


@require_GET
@team_required
def models_page(request):
    base_url = _base_url(request)
    listed = []
    for image_model in catalog.enabled_models():
        image_model.availability = availability(image_model)
        image_model.snippets = snippets.for_model(base_url, image_model)
        listed.append(image_model)
    return render(
        request,
        "generator/models.html",
        {"models": listed, "base_url": base_url, "balance": ledger.balance(request.team)},
    )
