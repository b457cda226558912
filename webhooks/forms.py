from django import forms

from webhooks.models import TASK_EVENTS


class EndpointForm(forms.Form):
    url = forms.CharField(
        max_length=2048,
        label="Endpoint URL",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/pixdash/webhook"}),
        help_text="https only. Pixdash POSTs a signed JSON event here.",
    )
    description = forms.CharField(
        max_length=100,
        required=False,
        label="Description (optional)",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Order fulfilment"}),
    )
    events = forms.MultipleChoiceField(
        choices=[(event, event) for event in TASK_EVENTS],
        initial=list(TASK_EVENTS),
        widget=forms.CheckboxSelectMultiple,
        label="Events",
    )
