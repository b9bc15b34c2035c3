"""Prices with their tiers, variants, and the tiers on their own."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from catalog.admin.common import AuditedAdmin
from catalog.models import (
    Price,
    PricingTier,
    Variant,
)
from core.money import format_money


class TierFormSet(BaseInlineFormSet):
    """A tiered price needs tiers ending in one open-ended tier ("and above"), as Stripe
    requires ``up_to=inf``; a per-unit price has none. Otherwise price_for_quantity refuses
    quantities past the last tier."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        tiers_mode = self.instance.tiers_mode
        if not tiers_mode:
            if kept:
                raise ValidationError("Set the tiers mode (graduated or volume) to use tiers.")
            return
        open_ended = [row for row in kept if row.get("up_to") is None]
        if len(open_ended) != 1:
            raise ValidationError(
                "A tiered price needs exactly one last tier with an empty “up to” "
                "(it covers every larger quantity)."
            )


class TierInline(admin.TabularInline):
    model = PricingTier
    formset = TierFormSet
    fields = ["up_to", "unit_amount", "flat_amount"]
    extra = 1


@admin.register(Price)
class PriceAdmin(AuditedAdmin):
    list_display = [
        "__str__",
        "product",
        "type",
        "interval",
        "tiers_mode",
        "active",
        "stripe_price_id",
    ]
    list_filter = ["type", "interval", "tiers_mode", "active", "currency"]
    search_fields = ["nickname", "product__name", "product__slug", "stripe_price_id", "lookup_key"]
    autocomplete_fields = ["product"]
    readonly_fields = ["stripe_price_id", "stripe_synced_at"]
    inlines = [TierInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Variant)
class VariantAdmin(AuditedAdmin):
    list_display = ["sku", "name", "product", "license_type", "price_label", "available"]
    list_filter = ["license_type", "available", "currency"]
    search_fields = ["sku", "name", "product__name"]
    autocomplete_fields = ["product"]

    @admin.display(description="Price", ordering="price_amount")
    def price_label(self, obj):
        return format_money(obj.price_amount, obj.currency)


@admin.register(PricingTier)
class PricingTierAdmin(AuditedAdmin):
    list_display = ["price", "up_to", "unit_amount", "flat_amount"]
    list_filter = ["price__tiers_mode"]
    search_fields = ["price__nickname", "price__product__name"]
    autocomplete_fields = ["price"]
