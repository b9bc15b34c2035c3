"""Webhooks out: the business's own endpoints, the events sent to them and every attempt.

An event is written in the transaction of the change it reports, with one delivery per
endpoint that listens to its type; each delivery gets the endpoint's next sequence number,
so a receiver can tell the order and spot a gap. Deliveries are sent after the commit by a
Celery task, in sequence order per endpoint, and retried with backoff."""

import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from core.fields import EncryptedTextField
from core.models import TimeStampedModel

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class WebhookEndpoint(TimeStampedModel):
    url = models.URLField(
        max_length=1000, help_text="Where the events are POSTed (https in production)."
    )
    description = models.CharField(max_length=200, blank=True)
    event_types = ArrayField(
        models.CharField(max_length=64),
        default=list,
        help_text="The event types this endpoint receives.",
    )
    # The signing secret, encrypted at rest; staff see it once, when it is made.
    secret = EncryptedTextField(default=new_secret, editable=False)
    active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # The last sequence number given to one of this endpoint's deliveries.
    last_sequence = models.BigIntegerField(default=0, editable=False)
    # While a sender holds the endpoint (services.deliver_endpoint): until when its lease runs.
    sending_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook endpoint"

    def __str__(self):
        return self.url


class WebhookEvent(models.Model):
    """One thing that happened, as receivers see it (``payload`` is ``data.object``)."""

    public_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    # What makes the event unique (the change it reports), so a change saved twice sends
    # one event: e.g. "order.paid:42".
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "webhook event"

    def __str__(self):
        return f"{self.type} {self.public_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUCCEEDED = "SUCCEEDED", "Delivered"
    FAILED = "FAILED", "Gave up"


class WebhookDelivery(TimeStampedModel):
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.PROTECT, related_name="deliveries")
    sequence = models.BigIntegerField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    replay_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "sequence"], name="webhook_delivery_endpoint_sequence_uniq"
            ),
        ]
        indexes = [
            # The sender's question: this endpoint's first pending delivery.
            models.Index(
                fields=["endpoint", "sequence"],
                name="webhook_delivery_pending_idx",
                condition=Q(status="PENDING"),
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=Q(status="PENDING"),
            ),
        ]

    def __str__(self):
        return f"#{self.sequence} {self.event.type} → {self.endpoint.url}"


class DeliveryAttempt(models.Model):
    """One POST of a delivery: the delivery log."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    attempted_at = models.DateTimeField()
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self):
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.response_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300


class ConsumptionWatermark(models.Model):
    """How far the ``credits.consumed`` batches have read the credit ledger (one row)."""

    last_transaction_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"credits.consumed up to ledger row {self.last_transaction_id}"
