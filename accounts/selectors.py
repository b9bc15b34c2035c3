"""Reads for accounts pages and API: a customer only ever sees their own rows."""

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiKey, LoginSession, User


def active_sessions_for(*, user: User) -> QuerySet[LoginSession]:
    return LoginSession.objects.filter(
        user=user, revoked_at=None, expires_at__gt=timezone.now()
    ).order_by("-last_seen_at", "-id")


def api_keys_for(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys that still work or merely expired; revoked keys are gone from view."""
    return ApiKey.objects.filter(user=user, revoked_at=None).order_by("-created_at", "-id")
