"""Stripe's side recorded: the webhook inbox and the differences reconciliation finds."""

from django.db import models

from core.models import TimeStampedModel


class WebhookEvent(TimeStampedModel):
    """One Stripe event as it was delivered. Recorded before it is believed (STYLE rule 6)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    event_created = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.type} {self.stripe_event_id}"


class StripeDrift(TimeStampedModel):
    """A difference between our record and Stripe's, found by the daily reconciliation."""

    subscription = models.ForeignKey(
        "Subscription", on_delete=models.CASCADE, null=True, blank=True, related_name="drifts"
    )
    object_id = models.CharField(max_length=255)
    field = models.CharField(max_length=64)
    local_value = models.CharField(max_length=255, blank=True)
    stripe_value = models.CharField(max_length=255, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.object_id}.{self.field}: {self.local_value} != {self.stripe_value}"
