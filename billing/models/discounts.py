"""Discount codes and each use of one."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from billing.models.common import CURRENCY_LENGTH
from core.models import TimeStampedModel


class DiscountType(models.TextChoices):
    PERCENTAGE = "PERCENTAGE", "Percentage"
    FIXED_AMOUNT = "FIXED_AMOUNT", "Fixed amount"


class Discount(TimeStampedModel):
    code = models.CharField(max_length=64, help_text="Matched case-insensitively.")
    name = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=16, choices=DiscountType.choices)
    percent_off = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="For PERCENTAGE: in (0, 100].",
    )
    amount_off = models.BigIntegerField(
        null=True, blank=True, help_text="For FIXED_AMOUNT: minor units, > 0."
    )
    currency = models.CharField(
        max_length=CURRENCY_LENGTH,
        blank=True,
        help_text="Required for FIXED_AMOUNT; lower-case ISO code.",
    )
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    max_uses_per_customer = models.PositiveIntegerField(null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    minimum_amount = models.BigIntegerField(default=0, help_text="Minor units of the order.")
    first_time_only = models.BooleanField(default=False)
    products = models.ManyToManyField(
        "catalog.Product",
        blank=True,
        related_name="discounts",
        help_text="Empty means every product.",
    )
    active = models.BooleanField(default=True)
    stripe_coupon_id = models.CharField(
        max_length=255,
        blank=True,
        help_text="The Stripe coupon its promotion codes point at (made on first use).",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("code"), name="discount_code_unique_ci"),
            models.CheckConstraint(
                condition=(
                    Q(
                        type=DiscountType.PERCENTAGE,
                        percent_off__gt=0,
                        percent_off__lte=100,
                        amount_off__isnull=True,
                    )
                    | Q(
                        type=DiscountType.FIXED_AMOUNT,
                        amount_off__gt=0,
                        percent_off__isnull=True,
                        currency__regex=r"^[a-z]{3}$",
                    )
                ),
                name="discount_value_matches_type",
            ),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses_count__lte=F("max_uses")),
                name="discount_uses_within_max",
            ),
            models.CheckConstraint(
                condition=Q(minimum_amount__gte=0), name="discount_minimum_gte_0"
            ),
        ]

    def __str__(self):
        return self.code


class DiscountUsage(TimeStampedModel):
    discount = models.ForeignKey(Discount, on_delete=models.PROTECT, related_name="usages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(
        "Order", on_delete=models.CASCADE, null=True, blank=True, related_name="discount_usage"
    )
    subscription = models.OneToOneField(
        "Subscription",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="discount_usage",
    )
    promotion_code = models.ForeignKey(
        "PromotionCode",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="usages",
        help_text="The promotion code the customer typed, when it was one.",
    )
    amount_saved = models.BigIntegerField()
    currency = models.CharField(max_length=CURRENCY_LENGTH)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["discount", "user"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_saved__gte=0), name="discountusage_amount_gte_0"
            ),
            # One use is one purchase: an order or a subscription, never both or neither.
            models.CheckConstraint(
                condition=(
                    Q(order__isnull=False, subscription__isnull=True)
                    | Q(order__isnull=True, subscription__isnull=False)
                ),
                name="discountusage_order_xor_subscription",
            ),
        ]
