"""Helpers the credits service tests share: a balance, a lot, a lot past its date."""

from datetime import timedelta

from django.utils import timezone

from credits import services
from credits.models import CreditBalance, CreditGrant, GrantSource


def balance(user) -> int:
    return CreditBalance.objects.get(user=user).balance


def lot(user, amount, *, days=None, source=GrantSource.PROMO, key=None) -> CreditGrant:
    expires = timezone.now() + timedelta(days=days) if days is not None else None
    row = services.grant_credits(
        user=user, amount=amount, source=source, expires_at=expires, idempotency_key=key
    )
    return CreditGrant.objects.get(pk=row.details["grant_id"])


def make_overdue(grant: CreditGrant) -> None:
    # Lots cannot be granted already expired; move the date back as time would have.
    CreditGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(hours=1))
