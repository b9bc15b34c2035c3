"""Carts and one-time orders."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import F, Q

from billing.models.common import CURRENCY_LENGTH, BillingSource
from core.fields import EncryptedJSONField
from core.models import TimeStampedModel


class Cart(TimeStampedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart"
    )
    discount = models.ForeignKey(
        "Discount", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    promotion_code = models.ForeignKey(
        "PromotionCode", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self):
        return f"Cart of {self.user}"


class CartItem(TimeStampedModel):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    price = models.ForeignKey(
        "catalog.Price", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cartitem_quantity_gt_0"),
        ]


class OrderStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PROCESSING = "PROCESSING", "Processing"
    COMPLETED = "COMPLETED", "Completed"
    CANCELLED = "CANCELLED", "Cancelled"
    REFUNDED = "REFUNDED", "Refunded"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED", "Partially refunded"


class PaymentStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PROCESSING = "PROCESSING", "Processing"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"
    CANCELLED = "CANCELLED", "Cancelled"
    REFUNDED = "REFUNDED", "Refunded"


class Order(TimeStampedModel):
    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=24, choices=OrderStatus.choices, default=OrderStatus.PENDING, db_index=True
    )
    payment_status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, db_index=True
    )
    billing_source = models.CharField(max_length=16, choices=BillingSource.choices)
    currency = models.CharField(max_length=CURRENCY_LENGTH)
    subtotal = models.BigIntegerField()
    discount_amount = models.BigIntegerField(default=0)
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    refunded_amount = models.BigIntegerField(default=0)
    discount = models.ForeignKey(
        "Discount", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    # Personal data: encrypted at rest like the user's own address; only the address fields
    # (accounts.profile.ADDRESS_KEYS) are kept. Erased when the account is deleted.
    billing_address = EncryptedJSONField(blank=True, null=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    internal_notes = models.TextField(
        blank=True, help_text="Staff only; never shown to the customer."
    )
    metadata = models.JSONField(default=dict, blank=True)
    stripe_checkout_session_id = models.CharField(
        max_length=255, unique=True, null=True, blank=True
    )
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte_0"),
            models.CheckConstraint(
                condition=Q(
                    subtotal__gte=0, discount_amount__gte=0, tax__gte=0, refunded_amount__gte=0
                ),
                name="order_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("total")), name="order_refunded_lte_total"
            ),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") - F("discount_amount") + F("tax")),
                name="order_total_formula",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return self.number

    @property
    def refundable_amount(self) -> int:
        return self.total - self.refunded_amount

    @property
    def invoice_or_none(self):
        try:
            return self.invoice
        except ObjectDoesNotExist:  # no invoice (the reverse one-to-one is empty)
            return None


class OrderItem(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    price = models.ForeignKey(
        "catalog.Price", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    description = models.CharField(max_length=255, help_text="Product name at purchase time.")
    product_type = models.CharField(max_length=32, blank=True)
    quantity = models.PositiveIntegerField()
    unit_amount = models.BigIntegerField()
    line_total = models.BigIntegerField(help_text="Before discount and tax.")
    discount_amount = models.BigIntegerField(default=0)
    tax_rate = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    tax = models.BigIntegerField(default=0)
    credits_granted = models.BigIntegerField(default=0, help_text="Total credits for the line.")
    download_count = models.PositiveIntegerField(default=0)
    download_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Snapshot; empty = unlimited."
    )
    access_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderitem_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(
                    unit_amount__gte=0, line_total__gte=0, tax__gte=0, discount_amount__gte=0
                ),
                name="orderitem_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(download_limit__isnull=True)
                | Q(download_count__lte=F("download_limit")),
                name="orderitem_downloads_within_limit",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.description}"

    @property
    def grant_idempotency_key(self) -> str:
        return f"order-item-{self.pk}-credits"


class IncludedDownload(TimeStampedModel):
    """Downloads of a product a subscriber's plan includes (``Plan.included_downloads``),
    counted per subscription with the product's download limit, as an order line counts a
    buyer's."""

    subscription = models.ForeignKey(
        "billing.Subscription", on_delete=models.CASCADE, related_name="included_downloads"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    download_count = models.PositiveIntegerField(default=0)
    download_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Snapshot of the product's limit; empty = unlimited."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "product"], name="included_download_one_per_subscription"
            ),
            models.CheckConstraint(
                condition=Q(download_limit__isnull=True)
                | Q(download_count__lte=F("download_limit")),
                name="included_download_within_limit",
            ),
        ]

    def __str__(self):
        return f"{self.product_id} via subscription {self.subscription_id}"
