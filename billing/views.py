"""Billing pages: balance and ledger, top-ups, usage, limits, receipts; the Stripe webhook.

Every member sees the balance and their own usage and ledger entries; owners and admins
see the team's, top up, and set limits and the low-balance warning. Queries filter on
``request.team``, so another team's ids answer 404.
"""

import csv
import logging
from datetime import datetime, time, timedelta
from decimal import Decimal

import stripe
from django.contrib import messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing import alerts, ledger, limits, receipts, statement, topups, usage
from billing.forms import CheckoutForm, LedgerFilterForm, LimitForm, RedeemForm, ThresholdForm
from billing.models import EntryKind, LedgerEntry, MemberLimit
from pixdash.accounts.access import team_required
from pixdash.accounts.models import ApiKey, Membership, User
from pixdash.accounts.templatetags.formatting import credits

logger = logging.getLogger(__name__)
PAGE_SIZE = 50


# --- Access helpers ------------------------------------------------------------------------


def _viewer(request) -> User | None:
    """None for managers (the whole team), else the member whose usage is shown."""
    return None if request.membership.is_manager else request.user


def _entries(request) -> QuerySet[LedgerEntry]:
    return statement.entries(request.team, member=_viewer(request))


def _filter_form(request) -> LedgerFilterForm:
    team = request.team
    models = usage.models_used(team)
    keys = ApiKey.objects.filter(team=team)
    if not request.membership.is_manager:
        keys = keys.filter(created_by=request.user)
    members = None
    if request.membership.is_manager:
        members = User.objects.filter(memberships__team=team).order_by("email")
    return LedgerFilterForm(request.GET, models=list(models), keys=keys, members=members)


def _filtered(entries, form: LedgerFilterForm):
    if not form.is_valid():
        return entries
    data = form.cleaned_data
    tz = timezone.get_current_timezone()
    if data["kind"]:
        entries = entries.filter(kind=data["kind"])
    if data["start"]:
        entries = entries.filter(created_at__gte=datetime.combine(data["start"], time(), tz))
    if data["end"]:
        end = datetime.combine(data["end"] + timedelta(days=1), time(), tz)
        entries = entries.filter(created_at__lt=end)
    if data["model"]:
        entries = entries.filter(model=data["model"])
    if data["key"]:
        entries = entries.filter(api_key_id=data["key"])
    if data.get("member"):
        entries = entries.filter(user_id=data["member"])
    return entries


# --- Overview: balance, top-ups, ledger ------------------------------------------------------


def _render_billing(request, *, status=200, redeem_form=None, threshold_form=None):
    summary = statement.summary(request.team)
    form = _filter_form(request)
    entries = _filtered(_entries(request), form)
    # One line per generation unless someone asks for raw entries of one kind.
    raw_kinds = form.is_valid() and bool(form.cleaned_data["kind"])
    if not raw_kinds:
        entries = statement.without_releases(entries)
    rows, next_cursor = statement.page(
        entries, statement.parse_cursor(request.GET.get("after", ""))
    )
    query = request.GET.copy()
    query.pop("after", None)
    billing_settings = summary.settings
    context = {
        "balance": summary.balance,
        "on_hold": summary.on_hold,
        "forecast": summary.forecast,
        "settings": billing_settings,
        "low": summary.low,
        "entries": rows,
        "lines": statement.lines(rows, team=request.team) if not raw_kinds else None,
        "next_cursor": next_cursor,
        "filter_query": query.urlencode(),
        "paged": "after" in request.GET,
        "filter_form": form,
        "filtered": any(v for k, v in request.GET.items() if k != "after"),
        "redeem_form": redeem_form or RedeemForm(),
        "threshold_form": threshold_form
        or ThresholdForm(initial={"threshold": billing_settings.low_balance_threshold}),
        "card_payments": topups.card_payments_enabled(),
        "packs": topups.packs(),
        "checkout_form": CheckoutForm(packs=topups.packs()),
    }
    if request.htmx and request.htmx.target == "ledger":
        return render(request, "billing/billing.html#ledger", context, status=status)
    return render(request, "billing/billing.html", context, status=status)


@require_GET
@team_required
def billing(request):
    checkout = request.GET.get("checkout")
    if checkout == "success":
        messages.success(request, "Payment received. Credits appear as soon as Stripe confirms it.")
    elif checkout == "cancelled":
        messages.info(request, "Checkout cancelled; nothing was charged.")
    return _render_billing(request)


@never_cache
@require_POST
@team_required(manager=True)
def redeem(request):
    form = RedeemForm(request.POST)
    if not form.is_valid():
        return _render_billing(request, redeem_form=form, status=400)
    try:
        entry = topups.redeem(team=request.team, user=request.user, code=form.cleaned_data["code"])
    except topups.RedeemRateLimited as error:
        form.add_error("code", error.message)
        return _render_billing(request, redeem_form=form, status=429)
    except topups.RedeemFailed as error:
        form.add_error("code", error.message)
        return _render_billing(request, redeem_form=form, status=400)
    messages.success(request, f"Code redeemed: {credits(entry.amount)} credits added.")
    return redirect("billing", request.team.slug)


@require_POST
@team_required(manager=True)
def threshold(request):
    form = ThresholdForm(request.POST)
    if not form.is_valid():
        return _render_billing(request, threshold_form=form, status=400)
    value = form.cleaned_data["threshold"]
    alerts.set_low_balance_threshold(team=request.team, threshold=value)
    if value is None:
        messages.success(request, "Low-balance warning turned off.")
    else:
        messages.success(request, f"Owners and admins will be e-mailed below {value:,.2f} credits.")
    return redirect("billing", request.team.slug)


@require_POST
@team_required(manager=True)
def checkout(request):
    form = CheckoutForm(request.POST, packs=topups.packs())
    if not topups.card_payments_enabled() or not form.is_valid():
        messages.error(request, "Choose one of the credit packs.")
        return redirect("billing", request.team.slug)
    back = request.build_absolute_uri(reverse("billing", args=[request.team.slug]))
    try:
        url = topups.start_checkout(
            team=request.team,
            user=request.user,
            credits=form.cleaned_data["credits"],
            success_url=f"{back}?checkout=success",
            cancel_url=f"{back}?checkout=cancelled",
        )
    except topups.CheckoutUnavailable as error:
        messages.error(request, str(error))
        return redirect("billing", request.team.slug)
    return redirect(url)


@csrf_exempt  # Stripe signs the body instead; see topups.verify_event
@require_POST
def stripe_webhook(request):
    try:
        event = topups.verify_event(request.body, request.headers.get("Stripe-Signature"))
    except topups.WebhookNotConfigured:
        return HttpResponse("Stripe webhooks are not configured.", status=503)
    except topups.MalformedEvent as error:  # signed, but not an event object
        return HttpResponse(str(error), status=400, content_type="text/plain")
    except (ValueError, stripe.SignatureVerificationError):
        return HttpResponse("Invalid signature or payload.", status=400)
    try:
        outcome = topups.handle_event(event)
    except topups.MalformedEvent as error:  # signed, but oddly shaped
        return HttpResponse(str(error), status=400, content_type="text/plain")
    logger.info("stripe event %s: %s", event.to_dict().get("id"), outcome)
    return HttpResponse(outcome, content_type="text/plain")


# --- Ledger CSV and receipts -------------------------------------------------------------


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@team_required
def ledger_csv(request):
    entries = _filtered(_entries(request), _filter_form(request))
    writer = csv.writer(usage._Echo())

    def rows():
        yield writer.writerow(
            [
                "created_at",
                "kind",
                "amount",
                "reference",
                "model",
                "images",
                "api_key",
                "member",
                "actor",
                "reason",
            ]
        )
        for e in (
            entries.select_related("api_key", "user", "actor")
            .order_by("created_at", "id")
            .iterator(chunk_size=2000)
        ):
            yield writer.writerow(
                [
                    e.created_at.isoformat(),
                    e.kind,
                    f"{e.amount:.2f}",
                    usage.safe_cell(e.reference),
                    usage.safe_cell(e.model),
                    e.images,
                    usage.safe_cell(e.api_key.name) if e.api_key else "",
                    e.user.email if e.user else "",
                    e.actor.email if e.actor else "",
                    usage.safe_cell(e.reason),
                ]
            )

    return _csv_response(rows(), f"{request.team.slug}-ledger.csv")


@require_GET
@team_required
def receipt(request, reference: str):
    entries = _entries(request).filter(reference=reference, kind__in=ledger.SETTLEMENT_KINDS)
    entries = list(entries.select_related("api_key", "user").order_by("created_at", "id"))
    if not entries:
        raise Http404("No such charge.")
    found = receipts.find(reference, team=request.team)
    held = -sum(e.amount for e in entries if e.kind == EntryKind.HOLD)
    released = sum(e.amount for e in entries if e.kind == EntryKind.RELEASE)
    settled = any(e.kind == EntryKind.RELEASE for e in entries)
    context = {
        "reference": reference,
        "receipt": found,
        "entries": entries,
        "held": held,
        "charged": held - released if settled else None,
        "first": entries[0],
    }
    return render(request, "billing/receipt.html", context)


# --- Usage and limits ----------------------------------------------------------------------


def _end_user(request) -> str | None:
    """The end user (the API's ``user`` field) to show alone; a blank filter shows all."""
    return request.GET.get("end_user", "").strip()[:256] or None


def _period(request) -> int:
    raw = request.GET.get("days", "30")
    return int(raw) if raw in {str(p) for p in usage.PERIODS} else 30


@require_GET
@team_required
def usage_page(request):
    days = _period(request)
    metric = "images" if request.GET.get("metric") == "images" else "credits"
    member = _viewer(request)
    end_user = _end_user(request)
    start, end = usage.days_back(days)
    since = ledger.month_start()
    rows = usage.scope(request.team, member=member)
    # One query of the rollup for the tables and the month's spending (limits count every
    # end user), one for the chart.
    totals = usage.totals(rows, start=start, end=end, month_from=timezone.localdate(since))
    spent = usage.spending_since(request.team, totals, since=since, member=member)
    daily = usage.daily(usage.for_end_user(rows, end_user), start=start, end=end)
    context = {
        "days": days,
        "end_user": end_user or "",
        "periods": usage.PERIODS,
        "metric": metric,
        "report": usage.report(totals, start=start, end=end, end_user=end_user),
        "chart": usage.chart(daily, start=start, end=end, metric=metric),
        "key_limits": _key_limits(request, spent),
        "member_limits": _member_limits(request, spent),
    }
    return render(request, "billing/usage.html", context)


def _progress(spent: Decimal, limit: Decimal | None) -> dict:
    percent = float(spent / limit * 100) if limit else 0.0
    return {
        "spent": spent,
        "limit": limit,
        "percent": min(percent, 100.0),
        "state": "over" if percent >= 100 else "near" if percent >= 80 else "ok",
    }


def _key_limits(request, spent: usage.Spending) -> list[dict]:
    keys = ApiKey.objects.filter(team=request.team, revoked_at__isnull=True)
    if not request.membership.is_manager:
        keys = keys.filter(created_by=request.user)
    return [
        {
            "key": key,
            "form": LimitForm(initial={"limit": key.monthly_credit_limit}),
            **_progress(spent.by_key[key.pk], key.monthly_credit_limit),
        }
        for key in keys
    ]


def _member_limits(request, spent: usage.Spending) -> list[dict]:
    # Each member's cap comes with the member: one query for the list.
    cap = MemberLimit.objects.filter(team=request.team, user=OuterRef("user")).values(
        "monthly_credit_limit"
    )[:1]
    memberships = (
        Membership.objects.filter(team=request.team)
        .select_related("user")
        .annotate(cap=Subquery(cap))
    )
    if not request.membership.is_manager:
        memberships = memberships.filter(user=request.user)
    result = []
    for membership in memberships:
        cap = membership.cap
        result.append(
            {
                "membership": membership,
                "form": LimitForm(initial={"limit": cap}),
                **_progress(spent.by_member[membership.user_id], cap),
            }
        )
    return result


@require_GET
@team_required
def usage_csv(request):
    days = _period(request)
    start, end = usage.days_back(days)
    rows = usage.for_end_user(
        usage.scope(request.team, member=_viewer(request)), _end_user(request)
    )
    return _csv_response(
        usage.usage_csv(rows, start=start, end=end),
        f"{request.team.slug}-usage-{start:%Y%m%d}-{end:%Y%m%d}.csv",
    )


def _limit_value(request) -> Decimal | None | bool:
    form = LimitForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a limit of 0 credits or more, or leave it empty.")
        return False
    return form.cleaned_data["limit"]


@require_POST
@team_required(manager=True)
def key_limit(request, pk: int):
    api_key = get_object_or_404(ApiKey, team=request.team, pk=pk)
    value = _limit_value(request)
    if value is not False:
        limits.set_key_limit(api_key=api_key, limit=value)
        messages.success(request, f"Limit for “{api_key.name}” saved.")
    return redirect(f"{reverse('billing_usage', args=[request.team.slug])}#limits")


@require_POST
@team_required(manager=True)
def member_limit(request, pk: int):
    membership = get_object_or_404(Membership, team=request.team, pk=pk)
    value = _limit_value(request)
    if value is not False:
        limits.set_member_limit(membership=membership, limit=value)
        done = "removed" if value is None else "saved"
        messages.success(request, f"Cap for {membership.user.get_full_name()} {done}.")
    return redirect(f"{reverse('billing_usage', args=[request.team.slug])}#limits")
