"""Jobs in the browser: the recent-jobs list and its cards (polled while they run), run
again, try on other models side by side, and clearing finished cards from the list.

A running card polls only its status line; the rest of the card (its buttons, its
thumbnails) is replaced once, when the job finishes, so a click is never lost to a poll.
"""

from datetime import datetime

from django.contrib import messages
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from billing import ledger
from billing.ledger import InsufficientCredits
from generator import jobs, snippets
from generator.forms import CompareForm, model_choices
from generator.models import (
    FINISHED_STATUSES,
    Generation,
    ImageModel,
    InputImage,
    OutputImage,
    Source,
)
from generator.views.common import (
    api_base_url,
    generation_for_team,
    ids_from,
    reference_placeholders,
    serve_stored,
)
from pixdash.accounts.access import team_required

RECENT_JOBS = 8
MAX_COMPARE = 4
FINISHED = FINISHED_STATUSES
_MAX_DISMISSED = 100


# --- The recent-jobs list --------------------------------------------------------------
#
# Clearing is a view preference of one person in one team, not a change to the jobs (they
# stay in the gallery, the activity page and the ledger), so it lives in the session.


def _cleared_key(request) -> str:
    return f"pixdash.jobs_cleared.{request.team.pk}"


def _cleared(request) -> tuple[datetime | None, list[int]]:
    state = request.session.get(_cleared_key(request)) or {}
    before = state.get("before")
    return (datetime.fromisoformat(before) if before else None), list(state.get("ids", []))


def recent_jobs(request) -> list[Generation]:
    before, dismissed = _cleared(request)
    found = Generation.objects.filter(team=request.team, user=request.user, source=Source.UI)
    if before is not None:
        found = found.filter(Q(created_at__gt=before) | ~Q(status__in=FINISHED))
    return list(
        found.exclude(pk__in=dismissed)
        .select_related("image_model")
        .prefetch_related(
            Prefetch(
                "outputs",
                OutputImage.objects.filter(deleted_at__isnull=True).order_by("index"),
                to_attr="visible_outputs",
            )
        )[:RECENT_JOBS]
    )


@require_POST
@team_required
def jobs_clear(request):
    """Take every finished job off the list; running ones stay."""
    request.session[_cleared_key(request)] = {"before": timezone.now().isoformat(), "ids": []}
    if request.htmx:
        return render(request, "generator/generate.html#jobs-list", {"jobs": recent_jobs(request)})
    return redirect("home", request.team.slug)


@require_POST
@team_required
def job_dismiss(request, pk: int):
    """Take one finished job's card off the list."""
    generation = generation_for_team(request, pk)
    if generation.status not in FINISHED:
        raise Http404("Only finished jobs can be cleared.")
    before, dismissed = _cleared(request)
    state = {"before": before.isoformat() if before else None}
    state["ids"] = [*dismissed, generation.pk][-_MAX_DISMISSED:]
    request.session[_cleared_key(request)] = state
    if request.htmx:
        return render(request, "generator/generate.html#job-dismissed", {"job": generation})
    return redirect("home", request.team.slug)


# --- One job -------------------------------------------------------------------------


def outputs_of(generation: Generation) -> list[OutputImage]:
    return list(generation.outputs.filter(deleted_at__isnull=True).order_by("index"))


def _final(request, generation: Generation) -> dict:
    """A card that changed for good, with the balance its hold's release changed."""
    outputs = outputs_of(generation)
    return {"job": generation, "outputs": outputs, "balance": ledger.balance(request.team)}


@require_GET
@team_required
def job_card(request, pk: int):
    """A running job's status line, polled every second; once the job finishes, its whole
    card (thumbnails, actions), with 286 to tell htmx to stop polling."""
    generation = generation_for_team(request, pk)
    if not request.htmx:
        return redirect(_compare_url(request, [generation.pk]))
    if not generation.is_finished:
        return render(request, "generator/generate.html#job-live", {"job": generation})
    response = render(request, "generator/generate.html#job-final", _final(request, generation))
    response.status_code = 286
    response["HX-Retarget"] = f"#job-{generation.pk}"
    response["HX-Reswap"] = "outerHTML"
    return response


@require_GET
@team_required
def job_input(request, pk: int, input_pk: int):
    """A reference image a job was given, for the team's members (reusing its settings)."""
    generation = generation_for_team(request, pk)
    stored = get_object_or_404(
        InputImage, generation=generation, pk=input_pk, role=InputImage.Role.IMAGE
    )
    return serve_stored(stored.file, content_type="image/png")


def _resubmitted(request, generation: Generation, model: str | None = None) -> Generation | None:
    try:
        return jobs.resubmit(generation=generation, user=request.user, model=model).generation
    except (jobs.JobError, InsufficientCredits) as error:
        prefix = f"{model}: " if model else ""
        messages.error(request, prefix + getattr(error, "message", str(error)))
        return None


@require_POST
@team_required
def job_rerun(request, pk: int):
    generation = generation_for_team(request, pk)
    started = _resubmitted(request, generation)
    if started is not None:
        messages.success(request, "Running it again. The new job is at the top of the list.")
    return redirect("home", request.team.slug)


@require_POST
@team_required
def job_cancel(request, pk: int):
    """Stop a queued or running job: its hold comes back at once for what was not made;
    images already delivered stay (and are charged). The card shows how it ended."""
    generation = generation_for_team(request, pk)
    try:
        generation = jobs.cancel(generation=generation)
    except jobs.AlreadyFinished:
        generation.refresh_from_db()
    if request.htmx:
        context = _final(request, generation)
        response = render(request, "generator/generate.html#job-final", context)
        response["HX-Trigger"] = "pixdash:refresh-cost"
        return response
    messages.success(request, "Canceled.")
    return redirect("home", request.team.slug)


# --- Side by side ----------------------------------------------------------------------


def _compare_url(request, ids: list[int]) -> str:
    return reverse("compare", args=[request.team.slug], query={"g": ids})


def compare_choices(request, generation: Generation) -> list[ImageModel]:
    """The other models that can run this job, each with what it would hold and the
    ratio it would render (mapped when it lacks the one asked for)."""
    references = generation.inputs.filter(role=InputImage.Role.IMAGE).count()
    offered = []
    for image_model in model_choices():
        if image_model.pk == generation.image_model_id or image_model.availability == (
            "unavailable"
        ):
            continue
        if not (image_model.supports_edit if references else image_model.supports_generate):
            continue
        spec = jobs.GenerationSpec(
            model=image_model.public_id,
            prompt=generation.prompt,
            n=generation.n,
            size=generation.size,
            images=reference_placeholders(references),
        )
        try:
            image_model.quote = jobs.quote(team=request.team, spec=spec, user=request.user)
        except jobs.JobError:
            continue
        offered.append(image_model)
    return offered


@require_POST
@team_required
def job_compare(request, pk: int):
    """Run the same request on other models and show the jobs side by side."""
    generation = generation_for_team(request, pk)
    form = CompareForm(request.POST, choices=compare_choices(request, generation))
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("models", [])))
        return redirect(f"{_compare_url(request, [generation.pk])}#try")
    started = [generation.pk]
    for model in form.cleaned_data["models"]:
        again = _resubmitted(request, generation, model)
        if again is not None:
            started.append(again.pk)
    return redirect(_compare_url(request, started))


@require_GET
@team_required
def compare(request):
    """Several jobs side by side: cost and time per column (2–4 columns, or one job)."""
    ids = ids_from(request.GET.getlist("g"), limit=MAX_COMPARE)
    found = {
        g.pk: g
        for g in Generation.objects.filter(team=request.team, pk__in=ids).select_related(
            "image_model", "user"
        )
    }
    if not ids or len(found) != len(set(ids)):
        raise Http404("No such job.")
    columns = [{"job": found[pk], "outputs": outputs_of(found[pk])} for pk in ids]
    first = columns[0]["job"]
    choices = compare_choices(request, first)
    context = {
        "columns": columns,
        "first": first,
        "compare_form": CompareForm(choices=choices),
        "compare_choices": choices,
        "snippets": snippets.for_generation(api_base_url(request), first),
        "balance": ledger.balance(request.team),
    }
    return render(request, "generator/compare.html", context)
