"""How allauth's social sign-in creates and links accounts, through our services."""

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.db import transaction

from accounts import services, signup_hooks
from core import audit
from core.models import AuditAction


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def save_user(self, request, sociallogin, form=None):
        """A new account from Google or GitHub: a CUSTOMER without a password, its e-mail
        verified when the provider says so, with the signup bonus, audited."""
        with transaction.atomic():
            user = super().save_user(request, sociallogin, form)
            provider = sociallogin.account.provider
            audit.record(
                actor=user,
                action=AuditAction.CREATE,
                resource=user,
                new={"email": user.email, "role": user.role},
                via=f"social:{provider}",
            )
            if any(
                address.verified and address.email.lower() == user.email.lower()
                for address in sociallogin.email_addresses
            ):
                services.mark_email_verified(user=user)
            signup_hooks.user_signed_up(user=user)
        return user

    def is_open_for_signup(self, request, sociallogin):
        return True
