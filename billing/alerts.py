"""The low-balance warning: its threshold (set here), and the e-mail. ledger.py decides
when to send it (once per crossing); this sends it."""

from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from billing import ledger
from billing.models import BillingSettings, CreditAccount
from pixdash.accounts.models import MANAGER_ROLES, Membership, Team


def manager_emails(team: Team) -> list[str]:
    return list(
        Membership.objects.filter(team=team, role__in=MANAGER_ROLES)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def send_low_balance_email(*, team_id: int) -> None:
    team = Team.objects.get(pk=team_id)
    threshold = (
        BillingSettings.objects.filter(team=team)
        .values_list("low_balance_threshold", flat=True)
        .first()
    )
    balance = CreditAccount.objects.get(team=team).balance
    recipients = manager_emails(team)
    if not recipients or threshold is None:
        return
    context = {"team": team, "balance": balance, "threshold": threshold}
    send_mail(
        subject=f"[Pixdash] {team.name} is low on credits ({balance:.2f} left)",
        message=render_to_string("billing/low_balance_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )


def set_low_balance_threshold(*, team: Team, threshold: Decimal | None) -> None:
    """Warn owners and admins once when the balance drops below ``threshold`` (None: never).
    Already below it: the page shows the warning now, and the e-mail waits for a refill
    and the next drop."""
    below = threshold is not None and ledger.balance(team) < threshold
    BillingSettings.objects.update_or_create(
        team=team, defaults={"low_balance_threshold": threshold, "low_balance_alerted": below}
    )
