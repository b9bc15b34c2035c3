from django import forms

from support.models import TicketPriority
from support.services import CUSTOMER_PRIORITIES


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern); size and type limits are
    checked by the service so the page and the API refuse the same files."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class TicketForm(forms.Form):
    subject = forms.CharField(
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "data-suggest-url": "/api/v1/kb/articles/",
                "aria-describedby": "suggestions-help",
            }
        ),
    )
    description = forms.CharField(
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What happened, what you expected, and any order or invoice numbers.",
    )
    priority = forms.ChoiceField(
        choices=[(p.value, p.label) for p in CUSTOMER_PRIORITIES],
        initial=TicketPriority.MEDIUM,
        help_text="Urgent issues are triaged by our team and may be raised by them.",
    )
    related_order = forms.CharField(
        label="Order number (optional)",
        max_length=32,
        required=False,
        help_text="If this is about an order, its number.",
    )
    attachments = MultipleFileField(
        required=False, help_text=("Up to 5 files, 10 MB each: images, PDF, plain text or CSV.")
    )


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply", max_length=20_000, widget=forms.Textarea(attrs={"rows": 5})
    )
    attachments = MultipleFileField(
        required=False, help_text=("Up to 5 files, 10 MB each: images, PDF, plain text or CSV.")
    )


class StaffReplyForm(forms.Form):
    body = forms.CharField(max_length=20_000, widget=forms.Textarea(attrs={"rows": 5}))
    internal = forms.BooleanField(
        required=False, label="Internal note (never shown to the customer)"
    )
