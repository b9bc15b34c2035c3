"""Forms of the customer account pages. Validation rules live in accounts.profile/services."""

from django import forms

from accounts.profile import (
    ADDRESS_KEYS,
    GENDER_CHOICES,
    language_choices,
    profile_values,
    timezone_choices,
)

ADDRESS_LABELS = {
    "line1": "Address line 1",
    "line2": "Address line 2",
    "city": "City",
    "region": "State / region",
    "postal_code": "Postal code",
    "country": "Country (two-letter code, e.g. GB)",
}


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    display_name = forms.CharField(
        max_length=150, required=False, help_text="Shown instead of your name where set."
    )
    avatar_url = forms.CharField(
        label="Avatar URL", max_length=500, required=False, widget=forms.URLInput
    )
    phone = forms.CharField(
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    date_of_birth = forms.CharField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    gender = forms.ChoiceField(choices=GENDER_CHOICES, required=False)
    timezone = forms.ChoiceField(choices=timezone_choices)
    language = forms.ChoiceField(choices=language_choices)
    billing_line1 = forms.CharField(label=ADDRESS_LABELS["line1"], max_length=200, required=False)
    billing_line2 = forms.CharField(label=ADDRESS_LABELS["line2"], max_length=200, required=False)
    billing_city = forms.CharField(label=ADDRESS_LABELS["city"], max_length=200, required=False)
    billing_region = forms.CharField(label=ADDRESS_LABELS["region"], max_length=200, required=False)
    billing_postal_code = forms.CharField(
        label=ADDRESS_LABELS["postal_code"], max_length=200, required=False
    )
    billing_country = forms.CharField(label=ADDRESS_LABELS["country"], max_length=2, required=False)
    tax_id = forms.CharField(label="Tax id (VAT number)", max_length=32, required=False)

    GROUPS = [
        ("About you", ["first_name", "last_name", "display_name", "avatar_url", "gender"]),
        ("Contact and preferences", ["phone", "date_of_birth", "timezone", "language"]),
        (
            "Billing details",
            [
                "billing_line1",
                "billing_line2",
                "billing_city",
                "billing_region",
                "billing_postal_code",
                "billing_country",
                "tax_id",
            ],
        ),
    ]

    def groups(self):
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS]

    @classmethod
    def initial_for(cls, user) -> dict:
        values = profile_values(user)
        address = values.pop("billing_address") or {}
        for key in ADDRESS_KEYS:
            values[f"billing_{key}"] = address.get(key, "")
        dob = values.get("date_of_birth")
        values["date_of_birth"] = dob.isoformat() if dob else ""
        return {k: ("" if v is None else v) for k, v in values.items()}

    def profile_data(self) -> dict:
        """The cleaned form as update_profile() expects it (billing address as one object)."""
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("billing_")}
        data["billing_address"] = {
            key: self.cleaned_data.get(f"billing_{key}", "") for key in ADDRESS_KEYS
        }
        return data

    def add_service_errors(self, error) -> None:
        for field, messages in error.message_dict.items():
            if field == "billing_address":
                field = None
            self.add_error(field if field in self.fields else None, messages)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="So you can tell your keys apart, e.g. “CI server”.",
    )


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label="I understand that my personal data will be erased and I will be signed out "
        "everywhere. This cannot be undone.",
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("The password is not correct.", code="wrong_password")
        return password


class DeleteWithoutPasswordForm(forms.Form):
    """Deleting an account that has no password (it signs in with Google or GitHub): the
    customer signed in again with their provider a few minutes ago (``accounts.reauth``) and
    types their e-mail address, so a browser left signed in is not enough on its own."""

    email = forms.CharField(
        label="Type your e-mail address to confirm",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    confirm = DeleteAccountForm.base_fields["confirm"]

    def __init__(self, *args, user, recently_signed_in: bool, **kwargs):
        self.user = user
        self.recently_signed_in = recently_signed_in
        super().__init__(*args, **kwargs)

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if email.casefold() != self.user.email.casefold():
            raise forms.ValidationError(
                "This is not your account's e-mail address.", code="wrong_email"
            )
        return email

    def clean(self):
        cleaned = super().clean()
        if not self.recently_signed_in:
            raise forms.ValidationError(
                "Sign in again with your Google or GitHub account first: it confirms that "
                "it is you.",
                code="sign_in_again",
            )
        return cleaned
