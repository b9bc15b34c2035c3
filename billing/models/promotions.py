"""Promotion codes: customer-facing codes (SPRING25, PARTNER-ACME) that each stand for one
discount (the coupon: how much off, for how long), with their own campaign limits."""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from billing.models.common import CURRENCY_LENGTH
from core.models import TimeStampedModel

# Stripe's rule for a promotion code: letters, digits and dashes.
CODE_PATTERN = r"^[A-Za-z0-9-]+$"


class PromotionCode(TimeStampedModel):
    discount = models.ForeignKey(
        "Discount",
        on_delete=models.PROTECT,
        related_name="promotion_codes",
        verbose_name="coupon",
        help_text="The discount this code gives: how much off and for how long.",
    )
    code = models.CharField(
        max_length=64,
        validators=[RegexValidator(CODE_PATTERN, "Use letters, digits and dashes only.")],
        help_text="What customers type; matched case-insensitively.",
    )
    max_redemptions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Uses of this code in total. Empty: no limit."
    )
    max_per_customer = models.PositiveIntegerField(
        null=True, blank=True, help_text="Uses of this code by one customer. Empty: no limit."
    )
    first_time_only = models.BooleanField(
        default=False, help_text="Only for customers who have never paid for anything."
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    minimum_amount = models.BigIntegerField(
        default=0, help_text="Minor units of the order or first invoice, before tax."
    )
    minimum_amount_currency = models.CharField(
        max_length=CURRENCY_LENGTH,
        blank=True,
        help_text="The minimum's currency: the coupon's (the default currency for a "
        "percentage coupon).",
    )
    times_redeemed = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    stripe_promotion_code_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("code"), name="promotioncode_code_unique_ci"),
            models.CheckConstraint(
                condition=Q(code__regex=CODE_PATTERN), name="promotioncode_code_charset"
            ),
            models.CheckConstraint(
                condition=Q(max_redemptions__isnull=True)
                | Q(times_redeemed__lte=F("max_redemptions")),
                name="promotioncode_redemptions_within_max",
            ),
            models.CheckConstraint(
                condition=Q(minimum_amount__gte=0), name="promotioncode_minimum_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(minimum_amount=0) | Q(minimum_amount_currency__regex=r"^[a-z]{3}$"),
                name="promotioncode_minimum_has_currency",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(expires_at__isnull=True)
                | Q(expires_at__gt=F("starts_at")),
                name="promotioncode_expires_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.code
