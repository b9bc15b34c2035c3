"""Linking and unlinking a Google or GitHub account is audited."""

from allauth.socialaccount.signals import social_account_added, social_account_removed
from django.dispatch import receiver

from core import audit
from core.models import AuditAction


@receiver(social_account_added, dispatch_uid="social_signin.added")
def _added(sender, request, sociallogin, **kwargs):
    account = sociallogin.account
    audit.record(
        actor=account.user,
        action=AuditAction.UPDATE,
        resource=account.user,
        new={"linked_account": account.provider, "uid": account.uid},
        operation="social_account_linked",
    )


@receiver(social_account_removed, dispatch_uid="social_signin.removed")
def _removed(sender, request, socialaccount, **kwargs):
    audit.record(
        actor=socialaccount.user,
        action=AuditAction.UPDATE,
        resource=socialaccount.user,
        old={"linked_account": socialaccount.provider, "uid": socialaccount.uid},
        operation="social_account_unlinked",
    )
