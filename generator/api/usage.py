"""GET /v1/usage: usage from the daily rollup (billing.usage), grouped by day, model, key
and end user, for keys with the usage:read scope. A key sees what its creator sees on the
usage page: the team's usage for an owner's or admin's key, the creator's own otherwise."""

from datetime import date, timedelta

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from billing import usage
from generator.api.base import api_view
from generator.api.errors import ApiError
from generator.api.schemas import UsageList, UsageRow
from pixdash.accounts.models import MANAGER_ROLES, ApiKey, Membership, Scope
from pixdash.core.db import db_step

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _date(params, name: str) -> date | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise ApiError(400, "invalid_request_error", f"{name} must be a date, YYYY-MM-DD.", name)


def _period(params) -> tuple[date, date]:
    end = _date(params, "end") or timezone.localdate()
    start = _date(params, "start") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ApiError(400, "invalid_request_error", "start must not be after end.", "start")
    if (end - start).days >= MAX_DAYS:
        raise ApiError(
            400, "invalid_request_error", f"Ask for at most {MAX_DAYS} days at a time.", "start"
        )
    return start, end


def _group_by(params) -> list[str]:
    raw = params.get("group_by", "day")
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in usage.DIMENSIONS]
    if unknown or len(set(names)) != len(names):
        choices = ", ".join(usage.DIMENSIONS)
        raise ApiError(
            400,
            "invalid_request_error",
            f"group_by takes distinct names among {choices}, comma-separated.",
            "group_by",
        )
    return names


def _visible_rows(api_key: ApiKey):
    """The rows the key's creator would see on the usage page (billing.usage.scope). A
    key made by an operator command has no creator and speaks for the team."""
    if api_key.created_by_id is None:
        return usage.scope(api_key.team)
    role = (
        Membership.objects.filter(team_id=api_key.team_id, user_id=api_key.created_by_id)
        .values_list("role", flat=True)
        .first()
    )
    manager = role in MANAGER_ROLES
    return usage.scope(api_key.team, member=None if manager else api_key.created_by)


def _usage(request) -> dict:
    params = request.GET
    start, end = _period(params)
    group_by = _group_by(params)
    rows = usage.for_end_user(_visible_rows(request.api_key), params.get("user"))
    data = [
        UsageRow(
            day=bucket.day.isoformat() if bucket.day else None,
            model=bucket.model,
            key=f"{bucket.api_key.prefix}…" if bucket.api_key else None,
            key_name=bucket.api_key.name if bucket.api_key else None,
            user=bucket.end_user,
            generations=bucket.generations,
            images=bucket.images,
            credits=f"{bucket.credits:.2f}",
        )
        for bucket in usage.buckets(rows, start=start, end=end, group_by=group_by)
    ]
    return UsageList(
        object="list", start=start.isoformat(), end=end.isoformat(), group_by=group_by, data=data
    ).model_dump(mode="json")


@api_view("GET", scope=Scope.USAGE_READ)
async def get_usage(request: HttpRequest):
    return JsonResponse(await db_step(_usage, request))
