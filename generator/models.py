"""The model catalog, generation jobs and their images.

A Generation moves submitted → processing → completed | failed | canceled, and only
generator/jobs/state.py changes its state, always by conditional UPDATEs so that duplicate
task deliveries, the sweeper and a crashed worker's replacement cannot both finish it.
"""

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models import CREDIT_DIGITS
from pixdash.accounts.models import ApiKey, Team

PUBLIC_ID_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9.\-]{0,99}$", "Lower-case letters, digits, dots and dashes."
)
_RATIO = re.compile(r"^(\d{1,2}):(\d{1,2})$")
_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


class ProviderKind(models.TextChoices):
    GEMINI = "gemini", "Google Gemini"
    OPENAI = "openai", "OpenAI-compatible"
    LOCAL = "local", "Offline renderer (built in)"


class ImageModel(models.Model):
    """A model as the API and the UI name it, and what it costs. Editable in the admin:
    the upstream model name can change (Google retires model names) without a release."""

    public_id = models.CharField(max_length=100, unique=True, validators=[PUBLIC_ID_VALIDATOR])
    aliases = models.JSONField(default=list, blank=True)
    display_name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    provider = models.CharField(max_length=10, choices=ProviderKind.choices)
    upstream_model = models.CharField(max_length=200)
    credits_per_image = models.DecimalField(**CREDIT_DIGITS)
    supports_generate = models.BooleanField(default=True)
    supports_edit = models.BooleanField(default=True)
    max_reference_images = models.PositiveSmallIntegerField(default=3)
    # Aspect ratio → "WxH" the model renders for it, e.g. {"16:9": "1344x768"}.
    sizes = models.JSONField(default=dict)
    default_aspect_ratio = models.CharField(max_length=8, default="1:1")
    enabled = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    # Opt-in: public ids to try, in order, when this model's provider is unavailable.
    # A job that falls back is billed at the model that made its images.
    fallback_models = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["sort_order", "public_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credits_per_image__gte=0), name="image_model_price_not_negative"
            )
        ]

    def __str__(self) -> str:
        return self.public_id

    def clean(self) -> None:
        super().clean()
        if not isinstance(self.aliases, list) or not all(
            isinstance(a, str) and PUBLIC_ID_VALIDATOR.regex.match(a) for a in self.aliases
        ):
            raise ValidationError({"aliases": 'A list of ids like ["nano-banana"].'})
        if not isinstance(self.sizes, dict) or not self.sizes:
            raise ValidationError({"sizes": 'A mapping like {"1:1": "1024x1024"}.'})
        for ratio, size in self.sizes.items():
            if not _RATIO.match(str(ratio)) or not _SIZE.match(str(size)):
                raise ValidationError({"sizes": f"Bad entry {ratio!r}: {size!r}."})
        if self.default_aspect_ratio not in self.sizes:
            raise ValidationError({"default_aspect_ratio": "Must be one of the sizes' ratios."})
        self._check_price()
        self._check_names_are_unique()
        self._check_fallbacks()
        self._check_rename_keeps_fallbacks()

    def _check_price(self) -> None:
        """Only the built-in renderer may be free: a paid upstream at 0 credits would let
        every team spend the operator's provider account for nothing."""
        price = self.credits_per_image
        if price is not None and price <= 0 and self.provider != ProviderKind.LOCAL:
            raise ValidationError(
                {"credits_per_image": "Models of a paid provider need a price above 0."}
            )

    def _check_rename_keeps_fallbacks(self) -> None:
        """Renaming a public id that other models fall back to would silently drop it
        from their chains."""
        if self.pk is None:
            return
        old = ImageModel.objects.filter(pk=self.pk).values_list("public_id", flat=True).first()
        if old is None or old == self.public_id:
            return
        users = sorted(
            m.public_id
            for m in ImageModel.objects.exclude(pk=self.pk)
            if old in (m.fallback_models or [])
        )
        if users:
            raise ValidationError(
                {"public_id": f"{', '.join(users)} fall back to {old}; change them first."}
            )

    def _check_fallbacks(self) -> None:
        """Existing public ids, not this model, each once, and no cycle through other
        models' fallback lists (A → B → A would make "try the next one" ambiguous)."""
        names = self.fallback_models
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValidationError(
                {"fallback_models": 'A list of public ids like ["gpt-image-1.5"].'}
            )
        if self.public_id in names:
            raise ValidationError({"fallback_models": "A model cannot fall back to itself."})
        if len(set(names)) != len(names):
            raise ValidationError({"fallback_models": "Each fallback model may appear once."})
        graph = dict(
            ImageModel.objects.exclude(pk=self.pk).values_list("public_id", "fallback_models")
        )
        unknown = sorted(set(names) - set(graph))
        if unknown:
            raise ValidationError({"fallback_models": f"Unknown models: {', '.join(unknown)}."})
        graph[self.public_id] = names
        # Depth-first search for a path from any fallback back to this model.
        seen, stack = set(), list(names)
        while stack:
            name = stack.pop()
            if name == self.public_id:
                raise ValidationError(
                    {"fallback_models": "These fallbacks lead back to this model (a cycle)."}
                )
            if name in seen:
                continue
            seen.add(name)
            stack.extend(n for n in graph.get(name) or [] if isinstance(n, str))

    def _check_names_are_unique(self) -> None:
        """A public id or alias must name one model, or requests would resolve by luck."""
        others = ImageModel.objects.exclude(pk=self.pk)
        taken = {name for model in others for name in model.names}
        clashes = sorted(taken.intersection(self.names))
        if clashes:
            raise ValidationError(
                {"aliases": f"Already used by another model: {', '.join(clashes)}."}
            )

    @property
    def names(self) -> list[str]:
        return [self.public_id, *self.aliases]

    def size_for(self, ratio: str) -> tuple[int, int]:
        width, height = self.sizes[ratio].split("x")
        return int(width), int(height)

    def price_for(self, n: int) -> Decimal:
        return self.credits_per_image * n


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


FINISHED_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELED)


# A team's jobs that hold a worker or a place in the queue (generator/jobs/admission.py).
IN_FLIGHT = (Status.SUBMITTED, Status.PROCESSING)


class Source(models.TextChoices):
    UI = "ui", "Browser"
    API = "api", "API"


class Generation(models.Model):
    public_id = models.CharField(max_length=26, unique=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="generations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generations",
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    source = models.CharField(max_length=3, choices=Source.choices)
    is_async = models.BooleanField(default=True)
    image_model = models.ForeignKey(ImageModel, on_delete=models.PROTECT, related_name="+")
    requested_model = models.CharField(max_length=100)
    provider = models.CharField(max_length=20)
    demo = models.BooleanField(default=False, help_text="Rendered offline in demo mode.")
    upstream_model = models.CharField(max_length=200)

    prompt = models.TextField()
    n = models.PositiveSmallIntegerField(default=1)
    size = models.CharField(max_length=20, default="auto")
    aspect_ratio = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    quality = models.CharField(max_length=20, blank=True)
    output_format = models.CharField(max_length=5, default="png")
    response_format = models.CharField(max_length=10, default="url")
    background = models.CharField(max_length=20, blank=True)
    end_user = models.CharField(max_length=256, blank=True)
    # Webhooks: where the task's events go besides the team's endpoints, and whether the
    # finished job is announced at all (a callback, or a team with endpoints at submit).
    callback_url = models.CharField(max_length=2048, blank=True)
    announce = models.BooleanField(default=False)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    progress = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    upstream_request_ids = models.JSONField(default=list, blank=True)

    unit_price = models.DecimalField(**CREDIT_DIGITS)
    credits_held = models.DecimalField(**CREDIT_DIGITS)
    credits_charged = models.DecimalField(default=0, **CREDIT_DIGITS)
    images_delivered = models.PositiveSmallIntegerField(default=0)

    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Set by jobs.cancel() on a running job; the run stops asking the provider, keeps (and
    # charges) what it already delivered and finishes as canceled.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # NULL, not "", for "no key": the per-team unique constraint skips NULLs.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True)
    # Lineage: the gallery image this job edits, when started from "edit this image".
    edited_from = models.ForeignKey(
        "OutputImage", null=True, blank=True, on_delete=models.SET_NULL, related_name="edits"
    )

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When generator.jobs.dispatch last sent the task again (its message may have been lost).
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="generation_idempotency_key_unique_per_team",
            ),
            models.CheckConstraint(
                condition=Q(credits_charged__lte=models.F("credits_held")),
                name="generation_charged_within_hold",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "-created_at", "-id"], name="generation_team_recent"),
            models.Index(fields=["status", "lease_expires_at"], name="generation_status_lease"),
            # Webhooks' sweep for announcements the broker lost: announced jobs, by finish.
            models.Index(
                fields=["finished_at"],
                condition=Q(announce=True),
                name="generation_announced_finish",
            ),
            # Small: only the jobs in flight, counted per team at every submission.
            models.Index(
                fields=["team"],
                condition=Q(status__in=IN_FLIGHT),
                name="generation_team_in_flight",
            ),
        ]

    def __str__(self) -> str:
        return f"gen_{self.public_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def is_edit(self) -> bool:
        return self.inputs.exists()

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


def _input_path(instance: "InputImage", filename: str) -> str:
    # Generated names only: nothing from the client's filename reaches the file system.
    generation = instance.generation
    stem = f"{generation.public_id}-{instance.role}-{instance.position}"
    return f"inputs/{generation.team_id}/{stem}.png"


class InputImage(models.Model):
    class Role(models.TextChoices):
        IMAGE = "image", "Reference image"
        MASK = "mask", "Mask"

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="inputs")
    role = models.CharField(max_length=5, choices=Role.choices, default=Role.IMAGE)
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=_input_path, max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["role", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "role", "position"], name="input_image_unique_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.generation} {self.role} #{self.position}"


class OutputImage(models.Model):
    """A delivered image. Unique per (generation, index): a redelivered task that renders
    again finds the slot taken and stores nothing twice."""

    generation = models.ForeignKey(Generation, on_delete=models.PROTECT, related_name="outputs")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="images")
    index = models.PositiveSmallIntegerField()
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255)
    mime_type = models.CharField(max_length=20)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    favourite = models.BooleanField(default=False)
    # Soft delete: hidden from the gallery, restorable ("undo"), files kept.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # After the undo window (or the team's retention period) the files are removed from
    # storage. The row stays as a record of what was delivered and charged.
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "index"], name="output_image_unique_slot")
        ]
        indexes = [
            models.Index(fields=["team", "-created_at", "-id"], name="output_team_recent"),
            # The purge's work list: deleted, files not yet removed.
            models.Index(
                fields=["deleted_at"],
                name="output_pending_purge",
                condition=Q(deleted_at__isnull=False, purged_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.generation} #{self.index}"


class ProviderCall(models.Model):
    """One upstream call's outcome, for the staff page's success rates and latencies."""

    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=200, help_text="Upstream model name")
    ok = models.BooleanField()
    error_code = models.CharField(max_length=40, blank=True)
    latency_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {'ok' if self.ok else self.error_code}"
