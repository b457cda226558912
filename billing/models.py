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
from django.db.models.functions import Coalesce
from django.utils import timezone

from pixdash.accounts.models import ApiKey, Team

CREDIT_DIGITS = {"max_digits": 14, "decimal_places": 2}


class CreditAccount(models.Model):
    team = models.OneToOneField(Team, on_delete=models.PROTECT, related_name="credit_account")
    balance = models.DecimalField(default=0, **CREDIT_DIGITS)
    # Sum of unsettled HOLD amounts, kept by ledger.hold()/settle() in their transactions.
    on_hold = models.DecimalField(default=0, **CREDIT_DIGITS)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Viewing accounts is not enough to mint credits: grants need their own permission.
        permissions = [("grant_credits", "Can grant and adjust credits")]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="credit_balance_not_negative"),
            models.CheckConstraint(condition=Q(on_hold__gte=0), name="credit_on_hold_not_negative"),
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
    # The API caller's own user (the OpenAI ``user`` field), on a generation's HOLD.
    end_user = models.CharField(max_length=256, blank=True)
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
            # A Checkout Session is credited once, whichever webhook delivery wins.
            models.UniqueConstraint(
                fields=["reference"],
                condition=Q(kind=EntryKind.TOPUP),
                name="ledger_one_topup_per_checkout_session",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=EntryKind.values), name="ledger_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["account", "-created_at"], name="ledger_account_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.reference or self.reason})"


class UsageDaily(models.Model):
    """Settled usage per team, day, model, API key, member and end user (the OpenAI ``user``
    field of API calls): the read side of the ledger.

    Folded from UsageEvent rows by billing.usage.roll_up(), which runs before usage is
    read, so ``sum(credits) == -(sum of settled HOLD + RELEASE amounts)`` holds row for row
    wherever usage is shown, and the usage pages answer from a few hundred rows instead of
    aggregating the ledger. ``day`` is the (TIME_ZONE) day the generation started, i.e. of
    its HOLD entry.
    """

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="usage_days")
    day = models.DateField()
    model = models.CharField(max_length=100)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="usage_days",
    )
    end_user = models.CharField(max_length=256, blank=True)
    generations = models.PositiveIntegerField(default=0)
    images = models.PositiveIntegerField(default=0)
    credits = models.DecimalField(default=0, **CREDIT_DIGITS)

    class Meta:
        ordering = ["-day", "model"]
        verbose_name_plural = "usage days"
        constraints = [
            # COALESCE: NULL (no key / no member) is one bucket, not distinct from itself.
            # An expression index, so it works the same on PostgreSQL and SQLite.
            models.UniqueConstraint(
                "team",
                "day",
                "model",
                Coalesce("api_key", 0),
                Coalesce("user", 0),
                "end_user",
                name="usage_daily_one_row_per_bucket",
            ),
        ]
        indexes = [models.Index(fields=["team", "day"], name="usage_daily_team_day")]

    def __str__(self) -> str:
        return f"{self.team} {self.day} {self.model}: {self.images} images, {self.credits}"


class BillingSettings(models.Model):
    """Per-team billing preferences. ``low_balance_alerted`` is the armed/fired state of the
    low-balance e-mail: set by the debit that crosses below the threshold (one e-mail), and
    cleared by a credit that lifts the balance back to the threshold or above."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="billing_settings")
    low_balance_threshold = models.DecimalField(null=True, blank=True, **CREDIT_DIGITS)
    low_balance_alerted = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "billing settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(low_balance_threshold__gte=0) | Q(low_balance_threshold__isnull=True),
                name="billing_threshold_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} billing settings"


class UsageEvent(models.Model):
    """One settlement's usage, appended by ledger.settle() in its transaction and folded into
    UsageDaily (then deleted) by billing.usage.roll_up().

    Why not update UsageDaily in the settlement: every request of a key would update the
    same row, so concurrent settlements queued on its lock. Inserting an event takes no
    lock anyone else waits for; the roll-up runs off the request path (beat, and before
    usage is read)."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    model = models.CharField(max_length=100)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    end_user = models.CharField(max_length=256, blank=True)
    images = models.PositiveIntegerField(default=0)
    credits = models.DecimalField(default=0, **CREDIT_DIGITS)

    def __str__(self) -> str:
        return f"{self.team_id} {self.day} {self.model}: {self.images} images, {self.credits}"


class MemberLimit(models.Model):
    """A cap on the credits one member may spend per calendar month (UTC months, like the
    per-key limit). Enforced by ledger.check_spending_limits() before the hold."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="member_limits")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member_limits"
    )
    monthly_credit_limit = models.DecimalField(**CREDIT_DIGITS)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="member_limit_one_per_member"),
            models.CheckConstraint(
                condition=Q(monthly_credit_limit__gte=0), name="member_limit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}: {self.monthly_credit_limit}/month"


# --- Top-ups -------------------------------------------------------------------------


class CheckoutStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    REFUNDED = "refunded", "Refunded"


class CheckoutSession(models.Model):
    """A Stripe Checkout Session we created, with the pack it sells. The webhook credits
    ``credits`` from this row (never from the event's metadata), once: the OPEN → PAID
    transition is a conditional UPDATE and the TOPUP entry is unique per session id."""

    public_id = models.CharField(max_length=40, unique=True)
    stripe_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)  # noqa: DJ001
    payment_intent = models.CharField(max_length=255, blank=True, db_index=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="checkout_sessions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    credits = models.DecimalField(**CREDIT_DIGITS)
    amount = models.PositiveIntegerField(help_text="Price in the currency's minor unit.")
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=CheckoutStatus.choices, default=CheckoutStatus.OPEN
    )
    amount_refunded = models.PositiveIntegerField(default=0)
    credits_revoked = models.DecimalField(default=0, **CREDIT_DIGITS)
    refund_shortfall = models.DecimalField(
        default=0,
        help_text="Refunded credits that could not be taken back: already spent.",
        **CREDIT_DIGITS,
    )
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.team}: {self.credits} credits ({self.status})"


class RedeemBatch(models.Model):
    """Codes worth ``credits`` each, redeemable ``uses_per_code`` times (by different
    teams) until ``expires_at``. The codes exist in clear only in the one CSV download that
    generates them (see billing/admin.py); the database keeps SHA-256 digests."""

    name = models.CharField(max_length=100)
    credits = models.DecimalField(**CREDIT_DIGITS)
    uses_per_code = models.PositiveIntegerField(default=1)
    count = models.PositiveIntegerField(help_text="How many codes to generate.")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    codes_generated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "redeem batches"
        permissions = [("generate_redeem_codes", "Can generate and download redeem codes")]
        constraints = [
            models.CheckConstraint(
                condition=Q(credits__gt=0), name="redeem_batch_credits_positive"
            ),
            models.CheckConstraint(condition=Q(uses_per_code__gte=1), name="redeem_batch_uses"),
        ]

    def __str__(self) -> str:
        return self.name


class RedeemCode(models.Model):
    batch = models.ForeignKey(RedeemBatch, on_delete=models.PROTECT, related_name="codes")
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=8, help_text="The code's last characters, for support.")
    remaining_uses = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining_uses__gte=0), name="redeem_code_uses_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"…{self.hint} ({self.batch})"


class Redemption(models.Model):
    code = models.ForeignKey(RedeemCode, on_delete=models.PROTECT, related_name="redemptions")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["code", "team"], name="redemption_once_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.code} by {self.team}"
