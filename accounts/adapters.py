"""How allauth creates users and confirms e-mail: through accounts services. Its e-mails
carry the business's name (the ``business_name`` setting, not the Sites framework's
"example.com") and their links start with ``SITE_URL``."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings

from accounts import services
from core.errors import EmailTaken, WeakPassword
from core.system_config import get_config


@dataclass(frozen=True)
class _Site:
    """What allauth's e-mail templates read from ``current_site``."""

    name: str
    domain: str


def on_site(url: str) -> str:
    """``url`` (built from the request's host) on ``SITE_URL`` instead."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    return settings.SITE_URL + parts.path + (f"?{parts.query}" if parts.query else "")


def business_name() -> str:
    return get_config("business_name")


class AccountAdapter(DefaultAccountAdapter):
    def format_email_subject(self, subject: str) -> str:
        return f"[{business_name()}] {subject}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        context = {
            key: on_site(value) if key.endswith("_url") and isinstance(value, str) else value
            for key, value in context.items()
        }
        context["current_site"] = _Site(
            name=business_name(), domain=urlsplit(settings.SITE_URL).netloc
        )
        super().send_mail(template_prefix, email, context)

    def save_user(self, request, user, form, commit=True):
        """Create the user with ``register_user`` (same rules as the signup API)."""
        data = form.cleaned_data
        password = data.get("password1") or data.get("password")
        try:
            created = services.register_user(
                email=data["email"],
                password=password,
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                request=request,
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
