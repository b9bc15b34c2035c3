"""The plans the pricing page shows, one per SUBSCRIPTION product."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.choices import (
    BillingSource,
    CtaType,
    Interval,
    PriceType,
    ProductType,
)
from catalog.models.products import Price, Product
from core.models import TimeStampedModel


class Plan(TimeStampedModel):
    """What the pricing page shows for a SUBSCRIPTION product."""

    BillingSource = BillingSource
    CtaType = CtaType

    product = models.OneToOneField(
        Product,
        on_delete=models.PROTECT,
        related_name="plan",
        limit_choices_to={"type": ProductType.SUBSCRIPTION},
    )
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    tagline = models.CharField(max_length=200, blank=True)
    monthly_price = models.ForeignKey(
        Price, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    yearly_price = models.ForeignKey(
        Price, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Granted at the start of each billing period of the subscribed price: every month on the
    # monthly price, once a year on the yearly one (the pricing page says which).
    credits_per_period = models.PositiveIntegerField(default=0)
    trial_credits = models.PositiveIntegerField(default=0)
    # ["priority_support", "api_access", ...]
    entitlements = models.JSONField(default=list, blank=True)
    # {"AI_TEXT_CHAT": 1, "AI_VIDEO_GENERATION": 40}: replaces credits.FeatureCost for members.
    feature_cost_overrides = models.JSONField(default=dict, blank=True)
    # Subscribers download these products without buying them, while the plan is live.
    included_downloads = models.ManyToManyField(
        Product,
        blank=True,
        related_name="including_plans",
        limit_choices_to=Q(type=ProductType.DIGITAL_DOWNLOAD) | Q(download_file__isnull=False),
        help_text="Downloadable products the plan's subscribers may download without buying.",
    )
    storage_quota_bytes = models.BigIntegerField(
        null=True, blank=True, help_text="Empty means unlimited storage."
    )
    badge = models.CharField(max_length=40, blank=True)
    highlight = models.BooleanField(default=False)
    cta_type = models.CharField(max_length=16, choices=CtaType.choices, default=CtaType.SUBSCRIBE)
    cta_label = models.CharField(max_length=60, blank=True)
    cta_url = models.CharField(max_length=500, blank=True)
    sort_order = models.IntegerField(default=0)
    billing_source = models.CharField(
        max_length=8, choices=BillingSource.choices, default=BillingSource.STRIPE
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credits_per_period__gte=0), name="plan_credits_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(storage_quota_bytes__isnull=True) | Q(storage_quota_bytes__gte=0),
                name="plan_storage_quota_gte_0",
            ),
        ]
        indexes = [models.Index(fields=["active", "sort_order"], name="plan_active_sort")]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        for field, interval in (("monthly_price", Interval.MONTH), ("yearly_price", Interval.YEAR)):
            price = getattr(self, field)
            if price is None:
                continue
            if self.product_id and price.product_id != self.product_id:
                errors[field] = "Choose a price of this plan's product."
            elif price.type != PriceType.RECURRING or price.interval != interval:
                errors[field] = f"Choose a recurring price billed every {interval}."
        if self.product_id and self.product.type != ProductType.SUBSCRIPTION:
            errors["product"] = "A plan sells a SUBSCRIPTION product."
        if not isinstance(self.entitlements, list):
            errors["entitlements"] = 'A JSON list, e.g. ["api_access"].'
        overrides = self.feature_cost_overrides
        if not isinstance(overrides, dict) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in overrides.values()
        ):
            errors["feature_cost_overrides"] = (
                'A JSON object of whole, non-negative credit costs, e.g. {"AI_TEXT_CHAT": 1}.'
            )
        if errors:
            raise ValidationError(errors)

    def price_for_interval(self, interval: str) -> Price | None:
        prices: dict[str, Price | None] = {
            Interval.MONTH: self.monthly_price,
            Interval.YEAR: self.yearly_price,
        }
        return prices.get(interval)

    def cost_for(self, operation_key: str) -> int | None:
        """This plan's cost override for an operation, or None to use the standard cost."""
        value = (self.feature_cost_overrides or {}).get(operation_key)
        return int(value) if value is not None else None

    def has_entitlement(self, key: str) -> bool:
        return key in (self.entitlements or [])


def download_entitlement(product_id: int) -> str:
    """The entitlement a plan that includes downloads of this product gives its subscribers
    (``billing.entitlements.has_entitlement(user, download_entitlement(product.pk))``)."""
    return f"download:{product_id}"
