"""Monthly spending limits: the only writer of a key's limit and a member's cap. ledger.py
enforces them when credits are held."""

from decimal import Decimal

from billing.models import MemberLimit
from pixdash.accounts.models import ApiKey, Membership


def set_key_limit(*, api_key: ApiKey, limit: Decimal | None) -> None:
    """Limit what ``api_key`` may spend per calendar month; None removes the limit."""
    ApiKey.objects.filter(pk=api_key.pk).update(monthly_credit_limit=limit)
    api_key.monthly_credit_limit = limit


def set_member_limit(*, membership: Membership, limit: Decimal | None) -> None:
    """Cap what the member spends in the team per calendar month; None removes the cap."""
    if limit is None:
        MemberLimit.objects.filter(team=membership.team_id, user=membership.user_id).delete()
        return
    MemberLimit.objects.update_or_create(
        team_id=membership.team_id,
        user_id=membership.user_id,
        defaults={"monthly_credit_limit": limit},
    )
