"""Top-ups: Stripe Checkout (card), its webhook, and redeem codes.

Stripe: we create a CheckoutSession row (team, pack from settings.PIXDASH_CREDIT_PACKS)
before asking Stripe for a Checkout Session, and the webhook credits the row's credits,
never anything from the event: metadata is echoed from our own request and is only as
trustworthy as the signature anyway, while the price list is ours. Crediting is exactly
once per Checkout Session id (a conditional OPEN → PAID UPDATE plus a unique TOPUP entry),
only for ``payment_status == "paid"``. Refunds take back credits proportional to the
cumulative refunded amount, by the delta since the last refund event, never below zero.

Redeem codes: 80 random bits each, stored as SHA-256 digests (no salt needed at that
entropy; a database leak does not hand out credits). They exist in clear only in the one
CSV download that generates them. Redeeming is one transaction: a conditional UPDATE of
``remaining_uses``, a (code, team) Redemption row (unique) and the REDEEM ledger entry.
Every failure reads the same, so the form cannot be used to probe which codes exist.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import httpx
import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing import ledger
from billing.models import (
    CheckoutSession,
    CheckoutStatus,
    EntryKind,
    LedgerEntry,
    RedeemBatch,
    RedeemCode,
    Redemption,
)
from pixdash.accounts.models import Team, User
from pixdash.core import ratelimit

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")

# --- Credit packs ----------------------------------------------------------------------

# ISO currencies Stripe takes in whole units rather than cents.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)


@dataclass(frozen=True)
class Pack:
    credits: int
    price: Decimal
    currency: str

    @property
    def minor_units(self) -> int:
        factor = 1 if self.currency in ZERO_DECIMAL_CURRENCIES else 100
        return int(self.price * factor)

    @property
    def per_credit(self) -> Decimal:
        return (self.price / self.credits).quantize(Decimal("0.0001"))


def packs() -> list[Pack]:
    return [Pack(c, p, settings.PIXDASH_CURRENCY) for c, p in settings.PIXDASH_CREDIT_PACKS]


def card_payments_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET and packs())


# --- Stripe API client -----------------------------------------------------------------

# Tests put an httpx.MockTransport here: Stripe is faked at the httpx transport, like our
# providers, and no test ever reaches the network.
stripe_transport: httpx.BaseTransport | None = None


class _HTTPXClient(stripe.HTTPXClient):
    """Stripe's own httpx-based client, with our transport when one is set."""

    def __init__(self) -> None:
        super().__init__(timeout=20, allow_sync_methods=True)
        if stripe_transport is not None:
            self._client = httpx.Client(transport=stripe_transport)

    def _get_request_args_kwargs(self, method, url, headers, post_data):
        # stripe passes the encoded form as ``data=``, which httpx deprecates for raw
        # bytes/str (DeprecationWarning on every call); hand it over as ``content=``.
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        if isinstance(kwargs.get("data"), str | bytes):
            kwargs["content"] = kwargs.pop("data")
        elif kwargs.get("data") == {}:
            kwargs.pop("data")
        return args, kwargs


def stripe_client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, http_client=_HTTPXClient(), max_network_retries=2
    )


class CheckoutUnavailable(Exception):
    """Stripe refused or could not be reached; the message is fit for users."""


def start_checkout(
    *, team: Team, user: User, credits: int, success_url: str, cancel_url: str
) -> str:
    """Record the pack the team is buying and create its Stripe Checkout Session; return
    the URL to send the browser to."""
    if not card_payments_enabled():
        raise CheckoutUnavailable("Card payments are not configured on this server.")
    pack = next((p for p in packs() if p.credits == credits), None)
    if pack is None:
        raise ValueError(f"No credit pack of {credits} credits")
    row = CheckoutSession.objects.create(
        public_id=f"cs_pd_{secrets.token_urlsafe(16)}",
        team=team,
        user=user,
        credits=pack.credits,
        amount=pack.minor_units,
        currency=pack.currency,
    )
    params = {
        "mode": "payment",
        "client_reference_id": row.public_id,
        "customer_email": user.email,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": pack.currency,
                    "unit_amount": pack.minor_units,
                    "product_data": {"name": f"{pack.credits:,} Pixdash credits"},
                },
            }
        ],
        # For people reading the Stripe dashboard; the webhook does not trust it.
        "metadata": {"pixdash_checkout": row.public_id, "team": team.slug},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    try:
        session = stripe_client().v1.checkout.sessions.create(
            params=params, options={"idempotency_key": row.public_id}
        )
    except stripe.StripeError as error:
        logger.warning("Stripe refused checkout %s: %s", row.public_id, error)
        raise CheckoutUnavailable(
            "The payment provider could not start a checkout. Try again in a minute."
        ) from None
    CheckoutSession.objects.filter(pk=row.pk).update(stripe_session_id=session.id)
    return session.url


# --- Webhook ---------------------------------------------------------------------------


class WebhookNotConfigured(Exception):
    pass


class MalformedEvent(ValueError):
    """Correctly signed, but not shaped like the Stripe event it claims to be."""


def verify_event(payload: bytes, signature: str | None) -> stripe.Event:
    """Verify the signature over the raw body with Stripe's own code (HMAC-SHA256 of
    ``timestamp.body``, 5-minute tolerance). Raises WebhookNotConfigured without a secret:
    we never verify against an empty key. Raises stripe.SignatureVerificationError or
    ValueError for anything forged, altered, stale or malformed."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookNotConfigured
    try:
        return stripe.Webhook.construct_event(payload, signature, secret)
    except RecursionError:
        raise MalformedEvent("The event body is nested too deeply.") from None
    except (AttributeError, TypeError, KeyError):
        # The signature held, but the body is JSON that is not an object (an array, a
        # string): Stripe's parser assumes an object.
        raise MalformedEvent("The event body must be a JSON object.") from None


_HANDLED = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded", "charge.refunded"}
)


def handle_event(event: stripe.Event) -> str:
    """Apply a verified event; returns what happened, for the log and the response."""
    data = event.to_dict()
    kind = data.get("type")
    section = data.get("data")
    obj = section.get("object") if isinstance(section, dict) else None
    if kind in _HANDLED and not isinstance(obj, dict):
        raise MalformedEvent(f"A {kind} event needs data.object to be an object.")
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if not isinstance(obj.get("id"), str):
            return "malformed"
        return checkout_paid(
            session_id=obj["id"],
            payment_status=obj.get("payment_status"),
            payment_intent=str(obj.get("payment_intent") or ""),
            amount_total=obj.get("amount_total"),
            currency=obj.get("currency"),
        )
    if kind == "charge.refunded":
        refunded = obj.get("amount_refunded")
        if not isinstance(refunded, int):
            return "malformed"
        return charge_refunded(
            payment_intent=str(obj.get("payment_intent") or ""), amount_refunded=refunded
        )
    return "ignored"


def checkout_paid(
    *,
    session_id: str,
    payment_status: str | None,
    payment_intent: str,
    amount_total: int | None,
    currency: str | None,
) -> str:
    if payment_status != "paid":
        return "unpaid"  # async methods: checkout.session.async_payment_succeeded follows
    with transaction.atomic():
        row = (
            CheckoutSession.objects.select_for_update(of=("self",))
            .select_related("team", "user")
            .filter(stripe_session_id=session_id)
            .first()
        )
        if row is None:
            logger.warning("Stripe session %s is not one of ours", session_id)
            return "unknown"
        if amount_total != row.amount or (currency or "").lower() != row.currency:
            logger.error(
                "Stripe session %s paid %s %s, expected %s %s; not credited",
                session_id,
                amount_total,
                currency,
                row.amount,
                row.currency,
            )
            return "mismatch"
        claimed = CheckoutSession.objects.filter(pk=row.pk, status=CheckoutStatus.OPEN).update(
            status=CheckoutStatus.PAID, paid_at=timezone.now(), payment_intent=payment_intent
        )
        if not claimed:
            return "duplicate"
        ledger.credit(
            team=row.team,
            amount=row.credits,
            kind=EntryKind.TOPUP,
            reference=session_id,
            user=row.user,
            reason=f"Card top-up: {row.credits:,.0f} credits",
        )
    return "credited"


def charge_refunded(*, payment_intent: str, amount_refunded: int) -> str:
    if not payment_intent:
        return "unknown"
    with transaction.atomic():
        row = (
            CheckoutSession.objects.select_for_update(of=("self",))
            .select_related("team")
            .filter(payment_intent=payment_intent)
            .exclude(status=CheckoutStatus.OPEN)
            .first()
        )
        if row is None:
            return "unknown"
        refunded = min(max(amount_refunded, 0), row.amount)
        target = (row.credits * refunded / row.amount).quantize(CENT, ROUND_HALF_UP)
        delta = target - row.credits_revoked
        if delta <= 0:
            return "duplicate"
        # Conditional on what we read, so a concurrent delivery (SQLite has no row locks)
        # cannot revoke the same delta twice.
        updated = CheckoutSession.objects.filter(
            pk=row.pk, credits_revoked=row.credits_revoked
        ).update(
            amount_refunded=refunded,
            credits_revoked=target,
            status=CheckoutStatus.REFUNDED if refunded >= row.amount else CheckoutStatus.PAID,
        )
        if not updated:
            return "duplicate"
        _taken, shortfall = ledger.revoke_up_to(
            team=row.team,
            amount=delta,
            reason=f"Card top-up refunded ({refunded / 100:.2f} {row.currency.upper()})",
            reference=row.stripe_session_id or row.public_id,
        )
        if shortfall:
            CheckoutSession.objects.filter(pk=row.pk).update(
                refund_shortfall=F("refund_shortfall") + shortfall
            )
            logger.warning("Refund of %s: %s credits were already spent", row.public_id, shortfall)
    return "revoked"


# --- Redeem codes ----------------------------------------------------------------------

INVALID_CODE = "That code is not valid."
ALREADY_REDEEMED = "Your team already redeemed this code."
# Crockford's base32 without the look-alikes: codes are typed by hand.
ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_GROUPS, GROUP_LENGTH = 4, 4  # 16 characters of 30 symbols: 78 bits
WINDOW_SECONDS = 15 * 60


class RedeemFailed(Exception):
    def __init__(self, message: str = INVALID_CODE):
        super().__init__(message)
        self.message = message


class RedeemRateLimited(RedeemFailed):
    def __init__(self):
        super().__init__("Too many attempts. Wait a few minutes and try again.")


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_digest(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def _new_code() -> str:
    groups = [
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(CODE_GROUPS)
    ]
    return "PIX-" + "-".join(groups)


def generate_codes(batch: RedeemBatch) -> list[str]:
    """Create the batch's codes and return them in clear: the only time they exist so.
    A batch generates once (conditional UPDATE), so a double-click cannot mint twice."""
    with transaction.atomic():
        if not RedeemBatch.objects.filter(pk=batch.pk, codes_generated_at__isnull=True).update(
            codes_generated_at=timezone.now()
        ):
            raise ValueError(f"The codes of “{batch}” were already generated and downloaded.")
        codes = [_new_code() for _ in range(batch.count)]
        RedeemCode.objects.bulk_create(
            RedeemCode(
                batch=batch,
                digest=code_digest(code),
                hint=normalize_code(code)[-4:],
                remaining_uses=batch.uses_per_code,
            )
            for code in codes
        )
    return codes


def redeem(*, team: Team, user: User, code: str) -> LedgerEntry:
    """Credit the team with the code's value, or raise RedeemFailed: INVALID_CODE whether
    the code is unknown, expired or used up (no way to tell a real code from a guess), and
    ALREADY_REDEEMED only for a code this team itself redeemed."""
    per_user = ratelimit.hit(
        "redeem-user",
        str(user.pk),
        limit=settings.PIXDASH_REDEEM_ATTEMPTS_PER_USER,
        seconds=WINDOW_SECONDS,
    )
    per_team = ratelimit.hit(
        "redeem-team",
        str(team.pk),
        limit=settings.PIXDASH_REDEEM_ATTEMPTS_PER_TEAM,
        seconds=WINDOW_SECONDS,
    )
    if not (per_user.allowed and per_team.allowed):
        raise RedeemRateLimited
    normalized = normalize_code(code)
    if not 8 <= len(normalized) <= 40:
        raise RedeemFailed
    try:
        with transaction.atomic():
            row = (
                RedeemCode.objects.select_related("batch")
                .filter(digest=code_digest(normalized))
                .first()
            )
            if row is None or (row.batch.expires_at and row.batch.expires_at <= timezone.now()):
                raise RedeemFailed
            # Said plainly only to the team that used it, which its own ledger shows
            # anyway; to anyone else a used code looks like any invalid one.
            if Redemption.objects.filter(code=row, team=team).exists():
                raise RedeemFailed(ALREADY_REDEEMED)
            if not RedeemCode.objects.filter(pk=row.pk, remaining_uses__gt=0).update(
                remaining_uses=F("remaining_uses") - 1
            ):
                raise RedeemFailed
            Redemption.objects.create(code=row, team=team, user=user)
            return ledger.credit(
                team=team,
                amount=row.batch.credits,
                kind=EntryKind.REDEEM,
                reference=f"redeem:{row.pk}",
                user=user,
                reason=f"Redeem code …{row.hint}",
            )
    except IntegrityError:  # this team redeemed the code meanwhile
        raise RedeemFailed(ALREADY_REDEEMED) from None
