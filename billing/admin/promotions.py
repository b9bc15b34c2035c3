"""Promotion codes: customer-facing codes for one discount, each with its own limits, and
how often each was used (the count and the usage rows, side by side)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from accounts import authority
from backoffice.audited import AuditedAdmin
from backoffice.confirm import confirm_first
from backoffice.forms import MoneyField
from backoffice.policy import policy_action
from backoffice.readonly import ReadOnlyInline
from billing import models
from billing.admin.common import MoneyAdminMixin, money_column
from billing.services import promotion_codes
from core.money import to_major_units
from core.system_config import get_config


def _minimum_currency(discount: models.Discount | None) -> str:
    """A minimum is in the coupon's currency (the default currency for a percentage one)."""
    if discount is not None and discount.currency:
        return discount.currency
    return str(get_config("default_currency"))


class PromotionCodeForm(forms.ModelForm):
    minimum_amount = MoneyField(
        required=False,
        min_minor=0,
        label="Minimum order amount",
        help_text="In the coupon's currency (the default currency for a percentage coupon), "
        "e.g. 50.00, before tax. Empty: no minimum.",
    )

    class Meta:
        model = models.PromotionCode
        fields = [
            "discount",
            "code",
            "active",
            "max_redemptions",
            "max_per_customer",
            "first_time_only",
            "starts_at",
            "expires_at",
            "minimum_amount",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        discount = self.instance.discount if self.instance.discount_id else None
        if self.is_bound:
            chosen = self.data.get(self.add_prefix("discount"))
            discount = models.Discount.objects.filter(pk=chosen).first() if chosen else None
        currency = _minimum_currency(discount)
        if "minimum_amount" in self.fields:
            self.fields["minimum_amount"].set_currency(currency)
            if self.instance.pk and self.instance.minimum_amount:
                self.initial["minimum_amount"] = to_major_units(
                    self.instance.minimum_amount, self.instance.minimum_amount_currency
                )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if models.Discount.objects.filter(code__iexact=code).exists():
            raise forms.ValidationError("A discount already has this code: choose another one.")
        taken = models.PromotionCode.objects.filter(code__iexact=code)
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another promotion code already has this code.")
        return code

    def clean_minimum_amount(self):
        return self.cleaned_data["minimum_amount"] or 0

    def clean(self):
        cleaned = super().clean()
        starts, expires = cleaned.get("starts_at"), cleaned.get("expires_at")
        if starts and expires and expires <= starts:
            self.add_error("expires_at", "The expiry must come after the start.")
        chosen = cleaned.get("discount")
        if self.instance.times_redeemed and chosen and chosen.pk != self.instance.discount_id:
            self.add_error("discount", "This code has been used: its coupon cannot change.")
        limit = cleaned.get("max_redemptions")
        if limit is not None and limit < self.instance.times_redeemed:
            self.add_error(
                "max_redemptions",
                f"It has been used {self.instance.times_redeemed} times already.",
            )
        self.instance.minimum_amount_currency = (
            _minimum_currency(cleaned.get("discount")) if cleaned.get("minimum_amount") else ""
        )
        return cleaned


class PromotionUsageInline(ReadOnlyInline):
    model = models.DiscountUsage
    fk_name = "promotion_code"
    fields = ("order", "subscription", "user", money_column("amount_saved"), "created_at")
    readonly_fields = fields


@admin.register(models.PromotionCode)
class PromotionCodeAdmin(MoneyAdminMixin, AuditedAdmin):
    form = PromotionCodeForm
    list_display = [
        "code",
        "coupon",
        "active",
        "times_redeemed",
        "usage_rows",
        "max_redemptions",
        "expires_at",
    ]
    list_filter = ["active", "first_time_only"]
    search_fields = ["code", "discount__code", "discount__name"]
    readonly_fields = ["times_redeemed", "stripe_promotion_code_id"]
    money_fields = ("minimum_amount",)
    money_currency = "minimum_amount_currency"
    inlines = [PromotionUsageInline]
    actions = ["deactivate"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("discount")
            .annotate(usage_count=Count("usages"))
        )

    @admin.display(description="coupon", ordering="discount__code")
    def coupon(self, obj):
        return obj.discount.name or obj.discount.code

    @admin.display(description="usage rows", ordering="usage_count")
    def usage_rows(self, obj):
        return obj.usage_count

    def has_add_permission(self, request):
        return authority.may(request.user, "billing.discount.change")

    def has_change_permission(self, request, obj=None):
        return authority.may(request.user, "billing.discount.change")

    def has_delete_permission(self, request, obj=None):
        return False  # its uses point at it: deactivate it instead

    @policy_action(
        "billing.promotion_code.deactivate", description="Deactivate the selected promotion codes"
    )
    @confirm_first(
        "Deactivate these promotion codes, so customers can no longer use them (their "
        "coupon and its other codes go on)?",
        "Yes, deactivate",
    )
    def deactivate(self, request, queryset):
        changed = sum(
            promotion_codes.deactivate(promotion, actor=request.user) for promotion in queryset
        )
        self.message_user(request, f"{changed} promotion code(s) deactivated.", messages.SUCCESS)


class PromotionCodeInline(ReadOnlyInline):
    """The coupon's promotion codes, each linked to its own page."""

    model = models.PromotionCode
    show_change_link = False  # the code itself links to its page
    fields = ("linked_code", "active", "times_redeemed", "max_redemptions", "expires_at")
    readonly_fields = fields

    @admin.display(description="code")
    def linked_code(self, obj):
        url = reverse("admin:billing_promotioncode_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.code)
