"""POST /v1/images/quote: the credits a generation would hold, from jobs.quote(), the same
planning that submit() holds by, so the price shown is the price held."""

from django.http import HttpRequest, JsonResponse

from generator import jobs
from generator.api import errors, parsing
from generator.api.base import api_view
from generator.api.schemas import QuoteObject
from pixdash.accounts.models import Scope
from pixdash.core.db import db_step


def _quote(request) -> dict:
    spec = parsing.generation_spec(request)
    try:
        quoted = jobs.quote(team=request.team, spec=spec, api_key=request.api_key)
    except errors.DOMAIN_ERRORS as error:
        raise errors.from_domain(error) from None
    plan = quoted.plan
    return QuoteObject(
        object="image.quote",
        model=plan.image_model.public_id,
        requested_model=spec.model,
        n=plan.n,
        credits_per_image=f"{plan.credits_per_image:.2f}",
        credits=f"{plan.credits:.2f}",
        hold=f"{plan.hold:.2f}",
        allowed=quoted.allowed,
        reasons=list(quoted.reasons),
        demo=plan.route.demo,
    ).model_dump(mode="json")


@api_view("POST", scope=Scope.IMAGES_GENERATE)
async def create_quote(request: HttpRequest):
    # A quote changes nothing, so it needs no Idempotency-Key: asking twice is harmless.
    return JsonResponse(await db_step(_quote, request))
