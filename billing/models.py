"""Credits: one account per team and an append-only ledger.

Every change of a balance is a LedgerEntry written by billing/ledger.py in the same
transaction as the conditional UPDATE of the balance, so ``balance == sum(entries)``
always holds and can be audited. Entries are never updated or deleted: a mistake is
corrected by a new ADJUSTMENT entry, which keeps the history a team is billed on intact
(on_delete=PROTECT everywhere for the same reason).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from pixdash.accounts.models import ApiKey, Team

CREDIT_DIGITS = {"max_digits": 14, "decimal_places": 2}


class CreditAccount(models.Model):
    team = models.OneToOneField(Team, on_delete=models.PROTECT, related_name="credit_account")
    balance = models.DecimalField(default=0, **CREDIT_DIGITS)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="credit_balance_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.balance} credits"


class EntryKind(models.TextChoices):
    GRANT = "grant", "Grant"
    TOPUP = "topup", "Top-up"
    REDEEM = "redeem", "Redeem code"
    HOLD = "hold", "Hold"
    RELEASE = "release", "Release"
    ADJUSTMENT = "adjustment", "Adjustment"


# A generation holds its credits once and settles once: these kinds are unique per reference.
SETTLEMENT_KINDS = (EntryKind.HOLD, EntryKind.RELEASE)


class LedgerEntry(models.Model):
    """One signed change of a team's balance. Append-only: never updated, never deleted."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    amount = models.DecimalField(**CREDIT_DIGITS)
    # What the entry is about: a generation's public id, a checkout session, a redeem code.
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    model = models.CharField(max_length=100, blank=True)
    images = models.PositiveIntegerField(default=0)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_actions",
        help_text="Who made a grant or adjustment by hand.",
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["reference", "kind"],
                condition=Q(kind__in=SETTLEMENT_KINDS),
                name="ledger_one_hold_and_one_release_per_reference",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=EntryKind.values), name="ledger_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["account", "-created_at"], name="ledger_account_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.reference or self.reason})"
