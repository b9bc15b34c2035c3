"""Linked accounts when an account is deleted: the link (the provider's id, name and e-mail
it sent) is personal data, removed with the account."""

from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from core import audit
from core.models import AuditAction


def deletion_preview(user: User) -> list[str]:
    names = sorted(
        {account.get_provider().name for account in SocialAccount.objects.filter(user=user)}
    )
    if not names:
        return []
    return [f"Signing in with {' and '.join(names)} will be unlinked."]


def settle_for_account_deletion(user: User) -> None:
    for account in SocialAccount.objects.filter(user=user):
        provider, uid = account.provider, account.uid
        account.delete()
        audit.record(
            actor=None,
            action=AuditAction.UPDATE,
            resource=user,
            old={"linked_account": provider, "uid": uid},
            operation="social_account_unlinked",
            reason="account_deleted",
        )


def linked_accounts_section(user: User) -> list[dict[str, object]]:
    """The data-export section: each linked sign-in with what the provider sent about them."""
    return [
        {
            "provider": account.provider,
            "uid": account.uid,
            "linked_at": account.date_joined.isoformat() if account.date_joined else None,
            "last_login": account.last_login.isoformat() if account.last_login else None,
            "profile": account.extra_data,
        }
        for account in SocialAccount.objects.filter(user=user).order_by("pk")
    ]
