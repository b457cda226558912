"""The generator page: compose a job, see what it will hold before sending it, start it,
and watch your recent jobs.

Every submission goes through jobs.submit (source=UI, async): the same pipeline, holds and
charges as the API. The cost line is jobs.quote() of the same request, so the credits it
shows are the credits submit() holds, fallback models included.

With htmx the form posts in place: a started job's card is added to the list and the form
keeps its prompt, settings and picked files so people can iterate; errors come back to
the fields they concern. Without JavaScript the page posts and redirects as usual.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from billing import ledger
from billing.ledger import InsufficientCredits
from generator import jobs
from generator.forms import GenerateForm, model_choices, nearest_ratio
from generator.models import Generation, ImageModel, InputImage, Source
from generator.views.common import as_int, image_for_team, reference_placeholders
from generator.views.jobs import recent_jobs
from pixdash.accounts.access import team_required

# Which form field a pipeline error belongs to, by the error's ``param``.
_FIELD_OF_PARAM = {"model": "model", "image": "images", "images": "images", "size": "aspect_ratio"}


def _default_model(models: list[ImageModel]) -> ImageModel | None:
    usable = [m for m in models if m.availability != "unavailable"]
    return usable[0] if usable else (models[0] if models else None)


def cost(
    request, image_model: ImageModel | None, raw_n, ratio, *, references: int = 0, full=True
) -> dict:
    """The cost line: the credits the job would hold (jobs.quote) and, when it would be
    refused, why; the count is checked by the form's own field, with its messages.

    The page itself prices with the plan alone (``full=False``: what is held, and whether
    the balance covers it), to stay within its statement budget; the line's refresh, on
    any change, runs the whole quote, spending caps included. submit() checks everything
    again either way."""
    balance = ledger.balance(request.team)
    context = {
        "selected": image_model,
        "balance": balance,
        "billing_url": reverse("billing", args=[request.team.slug]),
        "quote": None,
        "problem": "",
        "blocked": "",
    }
    if image_model is None:
        context["blocked"] = "No model is available on this server."
        return context
    try:
        n = GenerateForm.base_fields["n"].clean(raw_n)
    except ValidationError as error:
        context["problem"] = context["blocked"] = error.messages[0]
        return context
    if image_model.availability == "unavailable":
        context["blocked"] = f"{image_model.display_name} is unavailable on this server."
        return context
    spec = jobs.GenerationSpec(
        model=image_model.public_id,
        prompt="(quote)",
        n=n,
        size=nearest_ratio(image_model, ratio),
        images=reference_placeholders(references),
    )
    try:
        if full:
            quote = jobs.quote(team=request.team, spec=spec, user=request.user)
        else:
            planned = jobs.planning.plan(spec)
            short = balance < planned.hold
            quote = jobs.Quote(
                plan=planned,
                allowed=not short,
                reasons=("insufficient_credits",) if short else (),
            )
    except jobs.JobError as error:
        context["problem"] = context["blocked"] = error.message
        return context
    context["quote"] = quote
    if "insufficient_credits" in quote.reasons:
        context["blocked"] = (
            f"Not enough credits: {quote.plan.hold:.2f} needed, {balance:.2f} available."
        )
    elif "member_cap" in quote.reasons:
        context["blocked"] = "This would go over your monthly spending cap in this team."
    return context


def _page_context(request, form: GenerateForm, *, reused: list[InputImage] = ()) -> dict:
    models = list(form.models.values())
    image_model = form.image_model or _default_model(models)
    ratio = nearest_ratio(image_model, form["aspect_ratio"].value()) if image_model else ""
    references = len(reused) + (1 if form.edited_from else 0)
    return {
        "form": form,
        "rules": GenerateForm.browser_rules(),
        "models": models,
        "demo": any(m.availability == "demo" for m in models),
        "jobs": recent_jobs(request),
        "edited_from": form.edited_from,
        "reused": reused,
        "ratio": ratio,
        "n_value": form["n"].value() or 1,
        "references": references,
        **cost(
            request, image_model, form["n"].value() or 1, ratio, references=references, full=False
        ),
    }


@require_http_methods(["GET", "POST"])
@team_required
def generate(request):
    models = model_choices()
    if request.method == "GET":
        initial, reused = _initial(request, models)
        form = GenerateForm(initial=initial, team=request.team, models=models)
        if initial.get("edit_from"):
            form.edited_from = image_for_team(request, initial["edit_from"])
        return render(
            request, "generator/generate.html", _page_context(request, form, reused=reused)
        )
    form = GenerateForm(request.POST, request.FILES, team=request.team, models=models)
    if form.is_valid():
        try:
            submission = jobs.submit(
                team=request.team,
                spec=form.spec(),
                source=Source.UI,
                is_async=True,
                user=request.user,
                edited_from=form.edited_from,
            )
        except (jobs.JobError, InsufficientCredits) as error:
            param = getattr(error, "param", None)
            form.add_error(_FIELD_OF_PARAM.get(param), getattr(error, "message", str(error)))
        else:
            return _started(request, form, submission.generation)
    return _refused(request, form)


# A team's landing page is its generator; the form there posts to "generate".
home = require_GET(generate)


def _started(request, form: GenerateForm, generation: Generation):
    if request.htmx:
        context = {
            "job": generation,
            "outputs": [],
            "balance": ledger.balance(request.team),
        }
        response = render(request, "generator/generate.html#job-started", context, status=201)
        # The cost line depends on the balance, which the hold just lowered.
        response["HX-Trigger"] = "pixdash:refresh-cost"
        return response
    messages.success(request, "Started. Your images appear below as they are made.")
    # Keep the prompt and settings for the next try, as the in-place form does.
    data = form.cleaned_data
    query = {"prompt": data["prompt"], "model": data["model"], "n": data["n"]}
    query["ratio"] = data["aspect_ratio"]
    return redirect(reverse("home", args=[request.team.slug], query=query))


def _refused(request, form: GenerateForm):
    if request.htmx:
        # Only the error slots are swapped: the form keeps what was typed and picked.
        response = render(request, "generator/generate.html#form-errors", {"form": form})
        response.status_code = 422
        response["HX-Retarget"] = "#form-errors"
        response["HX-Reswap"] = "outerHTML"
        return response
    return render(request, "generator/generate.html", _page_context(request, form), status=400)


def _initial(request, models: list[ImageModel]) -> tuple[dict, list[InputImage]]:
    """Prefill from ?model=&prompt=&n=&ratio= (run again, try a model), ?edit=<image> or
    ?reuse=<job> (an earlier job's prompt, model, count, ratio and reference images)."""
    names = {m.public_id: m for m in models}
    default = _default_model(models)
    initial = {"n": 1, "model": default.public_id if default else ""}
    reused: list[InputImage] = []
    source = _reused_generation(request)
    if source is not None:
        initial.update(
            prompt=source.prompt,
            n=source.n,
            aspect_ratio=source.aspect_ratio,
            model=source.image_model.public_id,
        )
        # Uploads the team's retention removed are not offered.
        kept = source.inputs.filter(role=InputImage.Role.IMAGE).exclude(file="")
        reused = list(kept.order_by("position"))
        initial["reuse_inputs"] = [stored.pk for stored in reused]
    if request.GET.get("model") in names:
        initial["model"] = request.GET["model"]
    if "prompt" in request.GET:
        initial["prompt"] = request.GET["prompt"][:32000]
    if "n" in request.GET:
        initial["n"] = request.GET["n"][:4]
    if "ratio" in request.GET:
        initial["aspect_ratio"] = request.GET["ratio"][:8]
    edit = as_int(request.GET.get("edit"))
    if edit > 0:
        initial["edit_from"] = edit
    return initial, reused


def _reused_generation(request) -> Generation | None:
    pk = as_int(request.GET.get("reuse"))
    if pk <= 0:
        return None
    return Generation.objects.filter(team=request.team, pk=pk).select_related("image_model").first()


@require_GET
@team_required
def generate_cost(request):
    """The cost line, refreshed when the model, count, ratio or references change."""
    models = model_choices()
    by_name = {m.public_id: m for m in models}
    image_model = by_name.get(request.GET.get("model", "")) or _default_model(models)
    context = cost(
        request,
        image_model,
        request.GET.get("n"),
        request.GET.get("aspect_ratio"),
        references=as_int(request.GET.get("references")),
    )
    return render(request, "generator/generate.html#cost-line", context)


@require_GET
@team_required
def generate_options(request):
    """The ratio picker and reference-image hint for the chosen model. The ratio asked for
    is kept, or mapped to the model's nearest one, and the page says so."""
    models = model_choices()
    by_name = {m.public_id: m for m in models}
    image_model = by_name.get(request.GET.get("model", "")) or _default_model(models)
    asked = request.GET.get("aspect_ratio", "")[:8]
    ratio = nearest_ratio(image_model, asked) if image_model else ""
    context = {"selected": image_model, "ratio": ratio, "mapped_from": ""}
    if asked and asked != ratio and image_model and asked not in image_model.sizes:
        context["mapped_from"] = asked
    return render(request, "generator/generate.html#model-options", context)
