"""Money movements: payments and refunds."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.common import CURRENCY_LENGTH, BillingSource
from core.models import TimeStampedModel
from core.money import format_money


class Payment(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    order = models.ForeignKey(
        "Order", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    invoice = models.ForeignKey(
        "Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    provider = models.CharField(max_length=16, choices=BillingSource.choices)
    provider_id = models.CharField(
        max_length=255, blank=True, help_text="Stripe payment intent id, or the bank reference."
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUCCEEDED)
    method_type = models.CharField(max_length=32, blank=True)
    method_brand = models.CharField(max_length=32, blank=True)
    method_last4 = models.CharField(max_length=4, blank=True)
    stripe_payment_intent_id = models.CharField(
        max_length=255, blank=True, db_index=True, default="", db_default=""
    )
    stripe_charge_id = models.CharField(
        max_length=255, blank=True, db_index=True, default="", db_default=""
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    metadata = models.JSONField(default=dict, blank=True)
    receipt_number = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        unique=True,
        help_text="Given when the payment succeeds and its receipt e-mail is queued.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_gt_0"),
            # Stripe pays an order or an invoice once: a second success (a duplicate
            # webhook, several success events for one checkout) cannot insert a second row.
            # A bank transfer may come in parts (billing.services.invoices), each its own
            # row under the invoice's lock, with its own bank reference (the unique
            # provider id below).
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status="SUCCEEDED", provider="stripe"),
                name="payment_one_stripe_success_per_order",
            ),
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="SUCCEEDED", provider="stripe"),
                name="payment_one_stripe_success_per_invoice",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_id"],
                condition=~Q(provider_id=""),
                name="payment_provider_id_unique",
            ),
        ]

    def __str__(self):
        return (
            f"{self.get_provider_display()} payment of {format_money(self.amount, self.currency)}"
        )


class RefundReason(models.TextChoices):
    REQUESTED_BY_CUSTOMER = "REQUESTED_BY_CUSTOMER", "Requested by customer"
    DUPLICATE = "DUPLICATE", "Duplicate"
    FRAUDULENT = "FRAUDULENT", "Fraudulent"
    SUBSCRIPTION_CANCELED = "SUBSCRIPTION_CANCELED", "Subscription canceled"
    DISPUTED = "DISPUTED", "Disputed by the cardholder"
    OTHER = "OTHER", "Other"


class Refund(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"
        CANCELED = "CANCELED", "Canceled"

    # An order's refund, or a refund of a subscription invoice's payment: one or the other.
    order = models.ForeignKey(
        "Order", on_delete=models.PROTECT, related_name="refunds", null=True, blank=True
    )
    invoice = models.ForeignKey(
        "Invoice", on_delete=models.PROTECT, related_name="refunds", null=True, blank=True
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    reason = models.CharField(max_length=32, choices=RefundReason.choices)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    notes = models.TextField(blank=True)
    provider = models.CharField(max_length=16, choices=BillingSource.choices)
    stripe_refund_id = models.CharField(max_length=255, null=True, blank=True)
    stripe_dispute_id = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="Set when the money went back through a dispute (chargeback), not a refund.",
    )
    idempotency_key = models.CharField(max_length=100, unique=True)
    failure_reason = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notice_queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the customer's refund e-mail was queued."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
            models.UniqueConstraint(
                fields=["stripe_refund_id"],
                condition=Q(stripe_refund_id__isnull=False),
                name="refund_stripe_id_unique",
            ),
            models.UniqueConstraint(
                fields=["stripe_dispute_id"],
                condition=Q(stripe_dispute_id__isnull=False),
                name="refund_stripe_dispute_unique",
            ),
            models.CheckConstraint(
                condition=Q(order__isnull=False, invoice__isnull=True)
                | Q(order__isnull=True, invoice__isnull=False),
                name="refund_of_order_or_invoice",
            ),
        ]

    def __str__(self):
        what = f"order {self.order_id}" if self.order_id else f"invoice {self.invoice_id}"
        return f"Refund of {format_money(self.amount, self.currency)} on {what}"
