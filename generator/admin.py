"""The model catalog in the admin: what each public model id costs, which upstream model
serves it, and where it falls back to.

Every save goes through ImageModel.clean() (names unique across ids and aliases, known and
acyclic fallbacks, a price above 0 for paid providers). The catalog is read from the
database by generator.catalog on each request and job, so a change applies to every
running web process and worker at once; no restart.
"""

from django import forms
from django.contrib import admin

from generator.models import PUBLIC_ID_VALIDATOR, ImageModel


class CommaSeparatedIds(forms.CharField):
    """A list of model ids typed as ``a, b, c`` (order kept), stored as a JSON list."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        names = [name.strip().lower() for name in text.split(",") if name.strip()]
        for name in names:
            if not PUBLIC_ID_VALIDATOR.regex.match(name):
                raise forms.ValidationError(
                    f"{name!r} is not a model id (lower-case letters, digits, dots, dashes)."
                )
        return names


class ImageModelForm(forms.ModelForm):
    aliases = CommaSeparatedIds(
        required=False,
        help_text="Other names clients may use, e.g. nano-banana. Each name belongs to one model.",
    )
    fallback_models = CommaSeparatedIds(
        required=False,
        label="Fallback order",
        help_text=(
            "Public ids tried in this order when this model's provider is unavailable. "
            "Jobs hold the highest price of the chain and are billed at the model used."
        ),
    )

    class Meta:
        model = ImageModel
        fields = [
            "public_id",
            "aliases",
            "display_name",
            "description",
            "enabled",
            "provider",
            "upstream_model",
            "fallback_models",
            "credits_per_image",
            "supports_generate",
            "supports_edit",
            "max_reference_images",
            "sizes",
            "default_aspect_ratio",
            "sort_order",
        ]


@admin.register(ImageModel)
class ImageModelAdmin(admin.ModelAdmin):
    form = ImageModelForm
    list_display = [
        "public_id",
        "display_name",
        "provider",
        "upstream_model",
        "credits_per_image",
        "enabled",
        "fallback_order",
        "sort_order",
    ]
    list_filter = ["provider", "enabled"]
    search_fields = ["public_id", "display_name", "upstream_model"]
    ordering = ["sort_order", "public_id"]
    fieldsets = [
        (None, {"fields": ["public_id", "aliases", "display_name", "description", "enabled"]}),
        ("Upstream", {"fields": ["provider", "upstream_model", "fallback_models"]}),
        ("Price", {"fields": ["credits_per_image"]}),
        (
            "Capabilities",
            {
                "fields": [
                    "supports_generate",
                    "supports_edit",
                    "max_reference_images",
                    "sizes",
                    "default_aspect_ratio",
                ]
            },
        ),
        ("Display", {"fields": ["sort_order"]}),
    ]

    @admin.display(description="Fallback order")
    def fallback_order(self, obj: ImageModel) -> str:
        return " → ".join(obj.fallback_models or []) or "—"

    def has_delete_permission(self, request, obj=None) -> bool:
        # Generations keep a reference to their model; disable a model instead.
        return False
