"""Forms for the generator pages. The pipeline (jobs.submit) validates again; these forms
turn browser input into a GenerationSpec and readable field errors first."""

from django import forms

from generator import catalog
from generator import images as imaging
from generator.jobs import GenerationSpec
from generator.models import ImageModel, OutputImage, Source
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


def model_choices() -> list[ImageModel]:
    """Enabled models with their availability, for the picker (unavailable ones included,
    greyed out, so people learn they exist and why they cannot use them)."""
    listed = catalog.enabled_models()
    for image_model in listed:
        image_model.availability = availability(image_model)
    return listed


class GenerateForm(forms.Form):
    prompt = forms.CharField(
        max_length=MAX_PROMPT,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "A lighthouse at dusk, watercolour, soft light"}
        ),
        error_messages={"required": "Describe the image you want."},
    )
    model = forms.ChoiceField(error_messages={"invalid_choice": "Pick one of the listed models."})
    n = forms.IntegerField(
        label="Images",
        min_value=1,
        max_value=MAX_IMAGES_PER_JOB,
        initial=1,
        error_messages={
            "min_value": "Ask for at least 1 image.",
            "max_value": f"Ask for at most {MAX_IMAGES_PER_JOB} images at once.",
        },
    )
    aspect_ratio = forms.CharField(label="Aspect ratio", required=False, max_length=8)
    images = MultipleImageField(label="Reference images", required=False)
    edit_from = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, team, models: list[ImageModel], **kwargs):
        super().__init__(*args, **kwargs)
        self.team, self.models = team, {m.public_id: m for m in models}
        self.fields["model"].choices = [(m.public_id, m.display_name) for m in models]
        self.edited_from: OutputImage | None = None
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

    def clean(self):
        cleaned = super().clean()
        image_model = self.models.get(cleaned.get("model") or "")
        if image_model is None:
            return cleaned
        ratio = cleaned.get("aspect_ratio") or image_model.default_aspect_ratio
        if ratio not in image_model.sizes:
            ratio = image_model.default_aspect_ratio
        cleaned["aspect_ratio"] = ratio
        self.uploads = self._inspect_uploads(image_model, cleaned.get("images") or [])
        return cleaned

    def _inspect_uploads(self, image_model, files) -> list[imaging.UploadedImage]:
        references = [self.edited_from.file] if self.edited_from else []
        total = len(references) + len(files)
        if total and not image_model.supports_edit:
            self.add_error("images", f"{image_model.display_name} cannot edit images.")
            return []
        if total > image_model.max_reference_images:
            self.add_error(
                "images",
                f"{image_model.display_name} takes at most {image_model.max_reference_images} "
                f"reference images; you added {total}.",
            )
            return []
        uploads = []
        for stored in references:
            with stored.open("rb") as handle:
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
