from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """One Celery task to publish: written with the change that asked for it, published after
    the commit. ``claimed_until`` is a short lease held while one process publishes the row,
    so the relay does not publish it a second time meanwhile; a process that dies holding it
    only delays the row until the lease ends."""

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Set by tasks wrapped in ``effect_once`` when they finished: a redelivered copy of the
    # message (worker lost, relay after an unrecorded publish) then does nothing.
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's scan: only unpublished rows, oldest first. Stays tiny.
            models.Index(
                fields=["id"], name="outbox_unpublished_idx", condition=Q(published_at__isnull=True)
            ),
            # The staff console's order (waiting rows first, then the newest), which also
            # serves the pruning of old published rows (a range of published_at).
            models.Index(
                F("published_at").asc(nulls_first=True),
                F("id").desc(),
                name="outbox_published_id_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"

    @property
    def task_id(self) -> str:
        """The Celery task id every publication of this row carries (duplicates share it)."""
        return f"outbox-{self.pk}"
