"""Webhook endpoints, the events of finished tasks, and their signed deliveries.

An event's body is frozen as text when the event is created, and each delivery keeps one
message id (the ``webhook-id`` header) for all its attempts, so a receiver sees the same
id and the same bytes however often a delivery is retried or redelivered and can drop
duplicates. Secrets are kept in clear: we sign with them (an HMAC key cannot be a digest).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from generator.models import Generation
from pixdash.accounts.models import Team

TASK_EVENTS = ("task.completed", "task.failed", "task.canceled")
TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    """A team's URL that receives the task events it subscribes to, signed with its own
    secret (shown once, when the endpoint is created)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=100, blank=True)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url


class DefaultSecret(models.Model):
    """The secret that signs deliveries to a task's ``callback_url``; readable with the
    API at GET /v1/webhooks/default/secret."""

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, related_name="webhook_default_secret"
    )
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"default webhook secret of {self.team}"


class WebhookEvent(models.Model):
    """Something that happened, once: a task finishing (one event per task and type,
    however often the announcement is delivered), or a test event."""

    public_id = models.CharField(max_length=26, unique=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=30)
    generation = models.ForeignKey(
        Generation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField(help_text="The JSON sent, byte for byte, on every attempt.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "type"],
                condition=Q(generation__isnull=False),
                name="webhook_event_once_per_task_and_type",
            )
        ]

    def __str__(self) -> str:
        return f"evt_{self.public_id} {self.type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """An event on its way to one URL: an endpoint's, or the task's callback_url (no
    endpoint). Attempts are claimed by a conditional UPDATE of ``next_attempt_at``."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    url = models.CharField(max_length=2048)
    message_id = models.CharField(max_length=30, unique=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(endpoint__isnull=False),
                name="webhook_delivery_once_per_endpoint",
            ),
            models.UniqueConstraint(
                fields=["event"],
                condition=Q(endpoint__isnull=True),
                name="webhook_delivery_once_per_callback",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "-created_at", "-id"], name="webhook_delivery_recent"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.url} ({self.status})"


class WebhookAttempt(models.Model):
    """One try of a delivery, for the log on the Webhooks page."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery.message_id}: {self.status_code or self.error}"
