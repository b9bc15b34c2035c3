"""Abstract bases shared by every app's models."""

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """Default manager for soft-deletable models: hides rows with ``deleted_at`` set."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)
