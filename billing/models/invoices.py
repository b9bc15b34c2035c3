"""Invoices, credit notes and tax rates."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from billing.models.common import CURRENCY_LENGTH, BillingSource
from billing.models.payments import RefundReason
from core.models import TimeStampedModel


class InvoiceStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    OPEN = "OPEN", "Open"
    PAID = "PAID", "Paid"
    VOID = "VOID", "Void"
    UNCOLLECTIBLE = "UNCOLLECTIBLE", "Uncollectible"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED", "Partially refunded"
    REFUNDED = "REFUNDED", "Refunded"


class Invoice(TimeStampedModel):
    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invoices"
    )
    order = models.OneToOneField(
        "Order", on_delete=models.PROTECT, null=True, blank=True, related_name="invoice"
    )
    subscription = models.ForeignKey(
        "Subscription", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN, db_index=True
    )
    billing_source = models.CharField(
        max_length=16, choices=BillingSource.choices, default=BillingSource.MANUAL
    )
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    lines = models.JSONField(default=list, blank=True)
    subtotal = models.BigIntegerField()
    discount_amount = models.BigIntegerField(default=0)
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    amount_paid = models.BigIntegerField(default=0)
    amount_due = models.BigIntegerField()
    refunded_amount = models.BigIntegerField(
        default=0,
        db_default=0,
        help_text="Refunded or being refunded (pending refunds included), and lost to disputes.",
    )
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(
        max_length=64, blank=True, help_text="What the customer writes on the transfer."
    )
    stripe_invoice_id = models.CharField(max_length=255, null=True, blank=True)
    stripe_number = models.CharField(max_length=64, blank=True)
    hosted_invoice_url = models.URLField(max_length=2000, blank=True)
    billing_reason = models.CharField(max_length=40, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    stripe_state_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_invoice_id"],
                condition=Q(stripe_invoice_id__isnull=False),
                name="invoice_stripe_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0, amount_paid__gte=0, amount_due__gte=0),
                name="invoice_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(amount_paid__lte=F("total")), name="invoice_paid_lte_total"
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("amount_paid")),
                name="invoice_refunded_lte_paid",
            ),
            # Our own invoices add up; Stripe's carry Stripe's figures (inclusive taxes).
            models.CheckConstraint(
                condition=Q(billing_source="stripe")
                | Q(total=F("subtotal") - F("discount_amount") + F("tax")),
                name="invoice_total_adds_up",
            ),
        ]

    @property
    def refundable_amount(self) -> int:
        return max(0, self.amount_paid - self.refunded_amount)

    def __str__(self):
        return self.number


class CreditNote(TimeStampedModel):
    """The document that cancels all or part of a paid invoice: one per refund or dispute of
    a subscription payment. Numbered like invoices (CN-2026-000001), printable."""

    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_notes"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    refund = models.OneToOneField("Refund", on_delete=models.PROTECT, related_name="credit_note")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    reason = models.CharField(max_length=32, choices=RefundReason.choices)
    credits_clawed_back = models.BigIntegerField(default=0)
    credits_unrecovered = models.BigIntegerField(
        default=0, help_text="Plan credits the policy would take back that were already spent."
    )
    clawback_policy = models.CharField(max_length=16, blank=True)
    notice_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the customer was e-mailed this credit note."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="creditnote_amount_gt_0"),
        ]

    def __str__(self):
        return self.number


class TaxRate(TimeStampedModel):
    """The tax rate charged to customers in one country (billing.tax decides which applies)."""

    country = models.CharField(
        max_length=2, unique=True, help_text="ISO 3166 two-letter code, upper case (DE, FR, GB)."
    )
    name = models.CharField(max_length=40, default="VAT")
    rate = models.DecimalField(
        max_digits=5, decimal_places=4, help_text="A fraction: 0.2000 is 20 %."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["country"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lt=1), name="taxrate_rate_in_0_1"
            ),
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$"), name="taxrate_country_code"
            ),
        ]

    def __str__(self):
        return f"{self.country} {self.name} {self.rate * 100:.2f}%"


class StripeTaxRate(TimeStampedModel):
    """The Stripe TaxRate (``txr_...``) that carries one of our tax decisions on Stripe
    subscriptions when Stripe Tax is off: made once per country, percentage and
    inclusiveness, then reused (billing.services.stripe_tax)."""

    country = models.CharField(max_length=2, blank=True)
    percentage = models.DecimalField(
        max_digits=7, decimal_places=4, help_text="Out of 100: 19.0000 is 19 %."
    )
    inclusive = models.BooleanField(default=False)
    display_name = models.CharField(max_length=50)
    stripe_tax_rate_id = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["country", "percentage"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "percentage", "inclusive"], name="stripetaxrate_one_per_rate"
            ),
            models.CheckConstraint(
                condition=Q(percentage__gt=0, percentage__lt=100),
                name="stripetaxrate_percentage_0_100",
            ),
        ]

    def __str__(self):
        where = self.country or "-"
        return f"{where} {self.display_name} {self.percentage}% ({self.stripe_tax_rate_id})"
