from decimal import Decimal

from django import forms

from billing.ledger import LIMIT
from billing.models import EntryKind

CREDITS = {
    "max_digits": 14,
    "decimal_places": 2,
    "min_value": Decimal("0"),
    "max_value": LIMIT - Decimal("0.01"),
}


class LedgerFilterForm(forms.Form):
    """The ledger's filters; the choices for key/model/member come from the team."""

    kind = forms.ChoiceField(required=False, choices=[("", "All kinds"), *EntryKind.choices])
    start = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))
    model = forms.ChoiceField(required=False, choices=[("", "All models")])
    key = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="API key", choices=[("", "All keys")]
    )
    member = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[("", "All members")]
    )

    def __init__(self, data, *, models, keys, members):
        super().__init__(data)
        self.fields["model"].choices = [("", "All models"), *((m, m) for m in models)]
        self.fields["key"].choices = [("", "All keys"), *((k.pk, k.name) for k in keys)]
        if members is None:
            del self.fields["member"]
        else:
            self.fields["member"].choices = [
                ("", "All members"),
                *((u.pk, u.get_full_name()) for u in members),
            ]


class ThresholdForm(forms.Form):
    threshold = forms.DecimalField(
        required=False,
        label="Warn below (credits)",
        help_text="Owners and admins get one e-mail when the balance drops below this. "
        "Leave empty for no warning.",
        **CREDITS,
    )


class RedeemForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        label="Redeem code",
        widget=forms.TextInput(
            {"placeholder": "PIX-XXXX-XXXX-XXXX-XXXX", "autocomplete": "off", "spellcheck": "false"}
        ),
    )


class CheckoutForm(forms.Form):
    credits = forms.TypedChoiceField(coerce=int, label="Credit pack")

    def __init__(self, data=None, *, packs):
        super().__init__(data)
        self.fields["credits"].choices = [(p.credits, f"{p.credits:,}") for p in packs]


class LimitForm(forms.Form):
    limit = forms.DecimalField(
        required=False,
        label="Monthly limit (credits)",
        help_text="Empty removes the limit.",
        **CREDITS,
    )


class StaffCreditForm(forms.Form):
    """The admin's grant/adjust form: the actor and the reason go into the ledger."""

    kind = forms.ChoiceField(
        choices=[
            (EntryKind.GRANT, "Grant (add credits)"),
            (EntryKind.ADJUSTMENT, "Adjustment (signed correction)"),
        ]
    )
    amount = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Positive for a grant; an adjustment may be negative.",
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea({"rows": 3}))

    def clean(self):
        data = super().clean()
        if (
            data.get("kind") == EntryKind.GRANT
            and data.get("amount") is not None
            and data["amount"] <= 0
        ):
            self.add_error("amount", "A grant must be positive; use an adjustment to remove.")
        if data.get("amount") == 0:
            self.add_error("amount", "The amount cannot be zero.")
        return data
