"""A customer's own files (``accounts.StoredFile`` rows kept in the Files area), counted
against their plan's storage quota. Soft-deleted files stop counting at once and are purged
(blob and rows) after the retention period."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class CustomerFileQuerySet(models.QuerySet["CustomerFile"]):
    def alive(self) -> "CustomerFileQuerySet":
        return self.filter(deleted_at__isnull=True)


class CustomerFile(models.Model):
    stored = models.OneToOneField(
        "accounts.StoredFile",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="customer_file",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer_files"
    )
    # Copied from the stored file (set together), so the quota's sum and the purge read
    # this table's own indexes.
    size_bytes = models.BigIntegerField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CustomerFileQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-stored_id"]
        constraints = [
            models.CheckConstraint(condition=Q(size_bytes__gte=0), name="customerfile_size_gte_0")
        ]
        indexes = [
            models.Index(
                fields=["owner", "-created_at"],
                name="customerfile_alive_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["deleted_at"],
                name="customerfile_deleted_idx",
                condition=Q(deleted_at__isnull=False),
            ),
        ]

    def __str__(self):
        return self.stored.name
