from django.conf import settings
from django.dispatch import receiver

from billing import ledger
from pixdash.accounts.signals import user_signed_up


@receiver(user_signed_up, dispatch_uid="billing.signup_credits")
def grant_signup_credits(sender, *, user, team, **kwargs) -> None:
    """Give a new sign-up's personal team PIXDASH_SIGNUP_CREDITS to try things with."""
    if settings.PIXDASH_SIGNUP_CREDITS > 0:
        ledger.credit(
            team=team,
            amount=settings.PIXDASH_SIGNUP_CREDITS,
            reason="Sign-up credits",
            user=user,
        )
