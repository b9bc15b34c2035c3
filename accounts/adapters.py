"""How allauth creates users and confirms e-mail: through accounts services."""

from allauth.account.adapter import DefaultAccountAdapter
from django import forms

from accounts import services
from accounts.errors import EmailTaken, WeakPassword


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        """Create the user with ``register_user`` (same rules as the signup API)."""
        data = form.cleaned_data
        password = data.get("password1") or data.get("password")
        try:
            created = services.register_user(
                email=data["email"], password=password, first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""), request=request,
            )
        except (EmailTaken, WeakPassword) as exc:
            # The signup form validated both already; this is the race where two sign-ups
            # for one address arrive together.
            raise forms.ValidationError(exc.message) from exc
        return created

    def confirm_email(self, request, email_address):
        confirmed = super().confirm_email(request, email_address)
        if confirmed and email_address.primary:
            services.mark_email_verified(user=email_address.user)
        return confirmed
