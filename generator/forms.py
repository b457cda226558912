"""Forms for the generator pages. The pipeline (jobs.submit) validates again; these forms
turn browser input into a GenerationSpec and readable field errors first."""

from django import forms

from generator import catalog
from generator import images as imaging
from generator.jobs import GenerationSpec
from generator.models import ImageModel, InputImage, OutputImage, Source
from generator.providers.registry import availability

MAX_PROMPT = 32000
MAX_IMAGES_PER_JOB = 10


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several files in one input; each is checked by imaging.inspect_upload in the form."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(item, initial) for item in files]


class IdListField(forms.Field):
    """Several object ids in repeated hidden inputs; which objects they may name is the
    form's to check."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        ids = []
        for item in value or []:
            text = str(item)
            if not (text.isascii() and text.isdigit()) or len(text) > 12:
                raise forms.ValidationError(
                    "A reference image of the earlier job no longer exists."
                )
            ids.append(int(text))
        return ids[:16]


def model_choices() -> list[ImageModel]:
    """Enabled models with their availability, for the picker (unavailable ones included,
    greyed out, so people learn they exist and why they cannot use them)."""
    listed = catalog.enabled_models()
    for image_model in listed:
        image_model.availability = availability(image_model)
    return listed


class GenerateForm(forms.Form):
    """The generator page's form. Its fields' limits and messages are also what the page
    checks in the browser before sending (``browser_rules``): one source for both."""

    prompt = forms.CharField(
        max_length=MAX_PROMPT,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "A lighthouse at dusk, watercolour, soft light"}
        ),
        error_messages={
            "required": "Describe the image you want.",
            "max_length": f"Keep the prompt under {MAX_PROMPT:,} characters.",
        },
    )
    model = forms.ChoiceField(error_messages={"invalid_choice": "Pick one of the listed models."})
    n = forms.IntegerField(
        label="Images",
        min_value=1,
        max_value=MAX_IMAGES_PER_JOB,
        initial=1,
        error_messages={
            "required": f"Ask for 1 to {MAX_IMAGES_PER_JOB} images.",
            "invalid": f"Ask for 1 to {MAX_IMAGES_PER_JOB} images.",
            "min_value": "Ask for at least 1 image.",
            "max_value": f"Ask for at most {MAX_IMAGES_PER_JOB} images at once.",
        },
    )
    aspect_ratio = forms.CharField(label="Aspect ratio", required=False, max_length=8)
    images = MultipleImageField(label="Reference images", required=False)
    edit_from = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Reference images of an earlier job, kept when its settings are reused.
    reuse_inputs = IdListField(required=False)

    def __init__(self, *args, team, models: list[ImageModel], **kwargs):
        super().__init__(*args, **kwargs)
        self.team, self.models = team, {m.public_id: m for m in models}
        self.fields["model"].choices = [(m.public_id, m.display_name) for m in models]
        self.edited_from: OutputImage | None = None
        self.reused: list[InputImage] = []
        self.uploads: list[imaging.UploadedImage] = []

    @property
    def image_model(self) -> ImageModel | None:
        name = self.data.get("model") if self.is_bound else self.initial.get("model")
        return self.models.get(name or "")

    def clean_model(self) -> str:
        image_model = self.models[self.cleaned_data["model"]]
        if getattr(image_model, "availability", "available") == "unavailable":
            raise forms.ValidationError(
                f"{image_model.display_name} is unavailable: its provider is not configured "
                "on this server."
            )
        return image_model.public_id

    def clean_edit_from(self):
        pk = self.cleaned_data.get("edit_from")
        if pk is None:
            return None
        # Only this team's images: another team's id is "not found", like everywhere else.
        self.edited_from = (
            OutputImage.objects.filter(team=self.team, pk=pk, deleted_at__isnull=True)
            .select_related("generation")
            .first()
        )
        if self.edited_from is None:
            raise forms.ValidationError("The image to edit no longer exists.")
        return pk

    def clean_reuse_inputs(self) -> list[int]:
        ids = self.cleaned_data.get("reuse_inputs") or []
        self.reused = list(
            InputImage.objects.filter(
                generation__team=self.team, pk__in=ids, role=InputImage.Role.IMAGE
            )
            .exclude(file="")
            .order_by("generation_id", "position")
        )
        if len(self.reused) != len(set(ids)):
            raise forms.ValidationError("A reference image of the earlier job no longer exists.")
        return ids

    def clean(self):
        cleaned = super().clean()
        image_model = self.models.get(cleaned.get("model") or "")
        if image_model is None:
            return cleaned
        cleaned["aspect_ratio"] = nearest_ratio(image_model, cleaned.get("aspect_ratio"))
        self.uploads = self._inspect_uploads(image_model, cleaned.get("images") or [])
        return cleaned

    def _inspect_uploads(self, image_model, files) -> list[imaging.UploadedImage]:
        stored = [self.edited_from.file] if self.edited_from else []
        stored += [reused.file for reused in self.reused]
        total = len(stored) + len(files)
        if total and not image_model.supports_edit:
            self.add_error("images", f"{image_model.display_name} cannot edit images.")
            return []
        if total > image_model.max_reference_images:
            self.add_error("images", too_many_references(image_model, total))
            return []
        uploads = []
        for reference in stored:
            with reference.open("rb") as handle:
                uploads.append(imaging.inspect_upload(handle.read(), param="image"))
        for upload in files:
            # Size, type and pixel count are checked on the bytes and header before any
            # decode; the file name and the browser's content type are ignored.
            try:
                uploads.append(imaging.inspect_upload(upload.read(), param="image"))
            except imaging.ImageRejected as error:
                name = upload.name[:60]
                self.add_error("images", f"{name}: {_readable(error)}")
        return uploads

    def spec(self) -> GenerationSpec:
        data = self.cleaned_data
        return GenerationSpec(
            model=data["model"],
            prompt=data["prompt"],
            n=data["n"],
            size=data["aspect_ratio"],
            images=tuple(self.uploads),
        )

    @classmethod
    def browser_rules(cls) -> dict:
        """The limits and messages the page checks before sending, taken from the fields
        and the upload checks the server runs."""
        prompt, n = cls.base_fields["prompt"], cls.base_fields["n"]
        megabytes = imaging.MAX_UPLOAD_BYTES // (1024 * 1024)
        return {
            "prompt": {
                "required": prompt.error_messages["required"],
                "max_length": MAX_PROMPT,
                "too_long": prompt.error_messages["max_length"],
            },
            "n": {
                "min": n.min_value,
                "max": n.max_value,
                "invalid": n.error_messages["invalid"],
                "too_few": n.error_messages["min_value"],
                "too_many": n.error_messages["max_value"],
            },
            "images": {
                "max_bytes": imaging.MAX_UPLOAD_BYTES,
                "too_large": f"the file is larger than {megabytes} MB.",
                "types": sorted(UPLOAD_TYPES),
                "bad_type": "it must be a PNG, JPEG or WEBP image.",
                "too_many": "{model} takes at most {max} reference images; you added {count}.",
                "no_edits": "{model} cannot edit images.",
            },
        }


UPLOAD_TYPES = {"image/png", "image/jpeg", "image/webp"}


def nearest_ratio(image_model: ImageModel, ratio: str | None) -> str:
    """The model's own ratio closest to ``ratio`` (16:9 asked of a model with 3:2 at most
    gives 3:2, not a silent reset to the default); the default for nothing or nonsense."""
    try:
        return catalog.nearest_ratio(image_model, ratio or None)
    except ValueError:
        return image_model.default_aspect_ratio


def too_many_references(image_model: ImageModel, count: int) -> str:
    return (
        f"{image_model.display_name} takes at most {image_model.max_reference_images} "
        f"reference images; you added {count}."
    )


def _readable(error: imaging.ImageRejected) -> str:
    if error.status == 413:
        return f"the file is larger than {imaging.MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
    return error.message.replace("'image' ", "it ").replace("'image'", "the image")


class CompareForm(forms.Form):
    """Which other models to run the same prompt on (1–3 more, so 2–4 columns)."""

    models = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one other model."},
    )

    def __init__(self, *args, choices: list[ImageModel], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["models"].choices = [(m.public_id, m.display_name) for m in choices]

    def clean_models(self):
        picked = self.cleaned_data["models"]
        if len(picked) > 3:
            raise forms.ValidationError("Compare at most 4 models side by side.")
        return picked


class GalleryFilterForm(forms.Form):
    q = forms.CharField(label="Search prompts", required=False, max_length=200)
    model = forms.ChoiceField(label="Model", required=False)
    member = forms.TypedChoiceField(label="Member", required=False, coerce=int, empty_value=None)
    source = forms.ChoiceField(
        label="Source",
        required=False,
        choices=[("", "Browser and API"), (Source.UI, "Browser"), (Source.API, "API key")],
    )
    since = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))
    favourites = forms.BooleanField(label="Favourites only", required=False)

    def __init__(self, *args, models, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "All models")] + [
            (m.public_id, m.display_name) for m in models
        ]
        self.fields["member"].choices = [("", "Everyone")] + [
            (u.pk, u.get_short_name() or u.email) for u in members
        ]


class ActivityFilterForm(forms.Form):
    key = forms.TypedChoiceField(label="API key", required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[
            ("", "Any status"),
            ("completed", "Done"),
            ("failed", "Failed"),
            ("canceled", "Canceled"),
            ("processing", "Running"),
            ("submitted", "Queued"),
        ],
    )
    source = forms.ChoiceField(
        label="Source",
        required=False,
        choices=[("", "Browser and API"), (Source.UI, "Browser"), (Source.API, "API")],
    )

    def __init__(self, *args, keys, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [("", "Any key")] + [(k.pk, k.name) for k in keys]
