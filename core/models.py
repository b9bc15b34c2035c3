"""Abstract bases shared by every app's models; the audit log and run-time settings.

The audit log and the settings point at the user through ``settings.AUTH_USER_MODEL``, not an
import: core depends on no app.
"""

from typing import TypeVar, cast

from django.conf import settings
from django.db import models
from django.utils import timezone

_M = TypeVar("_M", bound=models.Model)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SoftDeleteQuerySet(models.QuerySet[_M]):
    def alive(self) -> "SoftDeleteQuerySet[_M]":
        return self.filter(deleted_at__isnull=True)


_SoftDeleteManager = models.Manager.from_queryset(SoftDeleteQuerySet)


class AliveManager(_SoftDeleteManager[_M]):
    """Default manager for soft-deletable models: hides rows with ``deleted_at`` set."""

    def get_queryset(self) -> SoftDeleteQuerySet[_M]:
        # from_queryset() makes the inherited get_queryset() build a SoftDeleteQuerySet; the
        # stubs type the generic manager's method as returning the plain QuerySet.
        return cast("SoftDeleteQuerySet[_M]", super().get_queryset()).alive()


class AuditAction(models.TextChoices):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    LOGIN = "LOGIN"
    LOGOUT = "LOGOUT"
    LOGIN_FAILED = "LOGIN_FAILED"
    STATUS_CHANGE = "STATUS_CHANGE"
    ROLE_CHANGE = "ROLE_CHANGE"
    EXPORT = "EXPORT"
    REFUND = "REFUND"
    CREDIT_GRANT = "CREDIT_GRANT"
    CREDIT_ADJUST = "CREDIT_ADJUST"
    CONFIG_CHANGE = "CONFIG_CHANGE"
    APPROVAL = "APPROVAL"
    OTHER = "OTHER"


class AuditLog(models.Model):
    """Who changed what, when, from where. Append-only: PostgreSQL refuses UPDATE and DELETE."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    resource_type = models.CharField(max_length=100)
    resource_id = models.CharField(max_length=100, blank=True)
    old_values = models.JSONField(default=dict, blank=True)
    new_values = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "accounts_auditlog"  # first created by the accounts app; rows stay put
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["resource_type", "resource_id"]),
            models.Index(fields=["actor", "-created_at"]),
            models.Index(fields=["action", "-created_at"]),
        ]

    def __str__(self) -> str:
        who = self.actor_email or "system"
        return f"{self.action} {self.resource_type}:{self.resource_id} by {who}"


class SystemConfig(TimeStampedModel):
    """A run-time setting staff may change. Keys and types are declared in core.system_config."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "accounts_systemconfig"  # first created by the accounts app; rows stay put
        ordering = ["key"]
        verbose_name = "system setting"

    def __str__(self) -> str:
        return self.key
