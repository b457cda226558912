from datetime import datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils import timezone

from pixdash.accounts.keys import ROLL_GRACE_CHOICES
from pixdash.accounts.models import Role, Scope, User, normalize_email


class SignupForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, label="Your name")
    email = forms.EmailField(label="E-mail")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )

    def __init__(self, *args, invited_email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.invited_email = invited_email

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        # An e-mailed invitation can only be accepted by its address; signing up with
        # another one would only open an account (a way round closed sign-up), not join.
        if self.invited_email and email != self.invited_email:
            raise forms.ValidationError(
                f"This invitation is for {self.invited_email}. Sign up with that address."
            )
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError("An account with this e-mail already exists. Log in.")
        return email

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password and cleaned.get("email"):
            candidate = User(email=cleaned["email"], name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class TeamNameForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A team needs a name.")
        return name


class RetentionForm(forms.Form):
    days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Keep images for (days)",
        help_text="Leave empty to keep images forever. Favourites are always kept.",
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(
        required=False,
        label="E-mail (optional)",
        help_text="Leave empty for a link anyone you share it with can accept once.",
    )
    role = forms.ChoiceField(
        choices=[(Role.MEMBER, "Member"), (Role.ADMIN, "Admin")], initial=Role.MEMBER
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    """``models``: the catalog's (public id, name) pairs, the only ids a key may be limited
    to."""

    name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. Website backend"})
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope.value, f"{scope.value} ({scope.label.lower()})") for scope in Scope],
        initial=Scope.values,
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
        help_text="What the key may do. A dashboard that only reads needs the last two.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    allowed_models = forms.MultipleChoiceField(
        required=False,
        label="Models this key may use (optional)",
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every model, including ones added later.",
    )
    monthly_credit_limit = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        label="Monthly credit limit (optional)",
    )
    require_end_user = forms.BooleanField(
        required=False,
        label="Require the user field",
        help_text="Refuse calls that do not name your end user (<code>user</code>), so usage "
        "can be told apart by them.",
    )
    rate_limit_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1_000_000,
        label="Requests per minute (optional)",
    )

    def __init__(self, *args, models: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["allowed_models"].choices = models
        self.fields[
            "rate_limit_per_minute"
        ].help_text = f"Empty uses the default of {settings.PIXDASH_API_RATE_LIMIT}."

    def clean_expires_on(self):
        expires_on = self.cleaned_data["expires_on"]
        if expires_on and expires_on <= timezone.localdate():
            raise forms.ValidationError("Pick a date after today.")
        return expires_on

    @property
    def expires_at(self) -> datetime | None:
        """Keys expire at the end of the chosen day, in the server's time zone."""
        expires_on = self.cleaned_data.get("expires_on")
        if not expires_on:
            return None
        return timezone.make_aware(datetime.combine(expires_on, time.max))


class RollKeyForm(forms.Form):
    grace = forms.TypedChoiceField(
        choices=[(int(grace.total_seconds()), label) for grace, label in ROLL_GRACE_CHOICES],
        coerce=int,
        initial=int(ROLL_GRACE_CHOICES[2][0].total_seconds()),
        label="The old key keeps working for",
    )

    @property
    def grace_period(self) -> timedelta:
        return timedelta(seconds=self.cleaned_data["grace"])


class KeyNameForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="New name", error_messages={"required": "A key needs a name."}
    )
