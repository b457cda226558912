"""How numbers and times read on every page: one format for credits, plain "ago"."""

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def credits(value) -> str:
    """Credits in one format everywhere: 2 → "2", 2.5 → "2.50", 1234 → "1,234", with the
    sign of a negative amount kept ("-8")."""
    try:
        amount = Decimal(value or 0)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if amount == amount.to_integral_value():
        return f"{amount:,.0f}"
    return f"{amount:,.2f}"


@register.filter
def signed_credits(value) -> str:
    """ "+150", "−8": amounts that add or take credits (a true minus sign)."""
    amount = Decimal(value or 0)
    if amount > 0:
        return f"+{credits(amount)}"
    if amount < 0:
        return f"\u2212{credits(-amount)}"
    return "0"


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now", "5 minutes ago", "2 days ago"; "never" for nothing."""
    if moment is None:
        return "never"
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment).split(',')[0]} ago"


@register.filter
def lookup(mapping: dict, key):
    """``mapping[key]`` in a template, or "" when it has none."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""
