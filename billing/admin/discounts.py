"""Discount codes and where each was used."""

from django import forms
from django.contrib import admin

from accounts import authority
from backoffice.audited import AuditedAdmin
from backoffice.forms import MoneyField
from backoffice.readonly import ReadOnlyInline
from billing import models
from billing.admin.common import MoneyAdminMixin, money_column
from billing.admin.promotions import PromotionCodeInline
from core.money import to_major_units
from core.system_config import get_config


class DiscountUsageInline(ReadOnlyInline):
    model = models.DiscountUsage
    fk_name = "discount"
    fields = (
        "order",
        "subscription",
        "user",
        "promotion_code",
        money_column("amount_saved"),
        "created_at",
    )
    readonly_fields = fields


class DiscountForm(forms.ModelForm):
    """A discount's amounts typed in major units: the amount off in the discount's currency,
    the minimum order amount in it too (the default currency for a percentage discount)."""

    amount_off = MoneyField(
        required=False,
        label="Amount off",
        help_text="For a fixed-amount discount: in its currency, e.g. 5.00.",
    )
    minimum_amount = MoneyField(
        required=False,
        min_minor=0,
        label="Minimum order amount",
        help_text="In the discount's currency (the default currency "
        "for a percentage discount), e.g. 50.00. Empty: no "
        "minimum.",
    )

    class Meta:
        model = models.Discount
        fields = "__all__"  # noqa: DJ007 - the admin's own fieldsets and read-only fields apply

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currency = self.instance.currency
        if self.is_bound:
            currency = str(self.data.get(self.add_prefix("currency")) or "").strip().lower()
        currency = currency or get_config("default_currency")
        for name in ("amount_off", "minimum_amount"):
            if name in self.fields:
                self.fields[name].set_currency(currency)
                value = getattr(self.instance, name, None)
                if self.instance.pk and value is not None:
                    self.initial[name] = to_major_units(value, currency)

    def clean_minimum_amount(self):
        return self.cleaned_data["minimum_amount"] or 0

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if models.PromotionCode.objects.filter(code__iexact=code).exists():
            raise forms.ValidationError("A promotion code already has this code.")
        return code


@admin.register(models.Discount)
class DiscountAdmin(MoneyAdminMixin, AuditedAdmin):
    form = DiscountForm
    list_display = [
        "code",
        "name",
        "type",
        "percent_off",
        money_column("amount_off"),
        money_column("minimum_amount", label="Minimum amount"),
        "uses_count",
        "max_uses",
        "valid_from",
        "valid_until",
        "active",
    ]
    list_filter = ["active", "type", "first_time_only"]
    search_fields = ["code", "name"]
    readonly_fields = ["uses_count", "stripe_coupon_id"]
    money_fields = ("amount_off", "minimum_amount")
    filter_horizontal = ["products"]
    inlines = [PromotionCodeInline, DiscountUsageInline]

    def get_inlines(self, request, obj):
        # A new coupon has no promotion codes yet: they are made under Promotion codes.
        return self.inlines if obj is not None else [DiscountUsageInline]

    def has_add_permission(self, request):
        return authority.may(request.user, "billing.discount.change")

    def has_change_permission(self, request, obj=None):
        return authority.may(request.user, "billing.discount.change")

    def has_delete_permission(self, request, obj=None):
        return False  # past orders point at their discount: deactivate it instead
