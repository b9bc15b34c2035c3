"""How long a discount lasts on a subscription: its first invoice only (once), its invoices
for N months (repeating), or every invoice (forever). A discount without a row is "once"."""

from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


class Duration(models.TextChoices):
    ONCE = "once", "Once (the first invoice)"
    REPEATING = "repeating", "Repeating (for a number of months)"
    FOREVER = "forever", "Forever (every invoice)"


class CouponDuration(TimeStampedModel):
    discount = models.OneToOneField(
        "billing.Discount",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="coupon_duration",
    )
    duration = models.CharField(max_length=10, choices=Duration.choices, default=Duration.ONCE)
    duration_in_months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="For a repeating discount: how many months of invoices it applies to (1 to 120).",
    )

    class Meta:
        verbose_name = "discount duration"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        duration="repeating",
                        duration_in_months__isnull=False,
                        duration_in_months__gte=1,
                        duration_in_months__lte=120,
                    )
                    | (~Q(duration="repeating") & Q(duration_in_months__isnull=True))
                ),
                name="couponduration_months_match_duration",
            ),
        ]

    def __str__(self):
        if self.duration == Duration.REPEATING:
            return f"{self.discount.code}: {self.duration_in_months} months"
        return f"{self.discount.code}: {self.duration}"
