"""The models page: the catalog with prices, capabilities, availability and API facts."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing import ledger
from generator import catalog, snippets
from generator.providers.registry import availability
from generator.views.common import api_base_url
from pixdash.accounts.access import team_required


@require_GET
@team_required
def models_page(request):
    base_url = api_base_url(request)
    listed = []
    for image_model in catalog.enabled_models():
        image_model.availability = availability(image_model)
        image_model.snippets = snippets.for_model(base_url, image_model)
        listed.append(image_model)
    context = {"models": listed, "base_url": base_url, "balance": ledger.balance(request.team)}
    return render(request, "generator/models.html", context)
