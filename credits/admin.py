"""Staff console for credits: costs are editable; balances, grants and the ledger are read-only
and change only through the services (the "adjust credits" action calls adjust_credits)."""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse

from accounts.system_config import get_config
from config.admin import ReadOnlyAdmin, perform, policy_action
from credits.models import CreditBalance, CreditGrant, CreditTransaction, FeatureCost


@admin.register(FeatureCost)
class FeatureCostAdmin(admin.ModelAdmin):
    list_display = ["operation", "name", "cost", "active", "updated_at"]
    list_filter = ["active"]
    list_editable = ["cost", "active"]
    search_fields = ["operation", "name", "tags"]


class LowBalanceFilter(admin.SimpleListFilter):
    title = "balance"
    parameter_name = "low"

    def lookups(self, request, model_admin):
        return [("yes", "Low (below threshold)"), ("no", "Not low")]

    def queryset(self, request, queryset):
        threshold = get_config("low_balance_threshold")
        if self.value() == "yes":
            return queryset.filter(balance__lt=threshold)
        if self.value() == "no":
            return queryset.filter(balance__gte=threshold)
        return queryset


class AdjustCreditsForm(forms.Form):
    amount = forms.IntegerField(help_text="Credits to add; negative to remove (not below zero).")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=500,
                             error_messages={"required": "A reason is required."},
                             help_text="Required; stored in the ledger and the audit log.")

    def clean_amount(self):
        if self.cleaned_data["amount"] == 0:
            raise forms.ValidationError("Enter a non-zero number of credits.")
        return self.cleaned_data["amount"]

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


@admin.register(CreditBalance)
class CreditBalanceAdmin(ReadOnlyAdmin):
    list_display = ["user", "balance", "low_balance_notified", "updated_at"]
    list_filter = [LowBalanceFilter, "low_balance_notified"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    actions = ["adjust_credits"]

    @policy_action("credits.adjust", description="Adjust credits (with a reason)")
    def adjust_credits(self, request, queryset):
        form = AdjustCreditsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
            for row in queryset.select_related("user").order_by("pk"):
                # Removing counts like granting against the staff member's limit.
                perform(self, request, action="credits.adjust", subject=str(row.user),
                        payload={"user_id": row.user_id, "amount": amount, "reason": reason},
                        amount=abs(amount), done=f"{amount:+,} credits adjusted")
            return None
        return TemplateResponse(request, "credits/admin/adjust_credits.html", {
            **self.admin_site.each_context(request), "title": "Adjust credits", "form": form,
            "balances": queryset.select_related("user"), "opts": self.model._meta,
            "action_name": "adjust_credits",
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        })


@admin.register(CreditGrant)
class CreditGrantAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "source", "amount", "remaining", "expires_at", "expired_at",
                    "source_ref", "created_at"]
    list_filter = ["source", ("expires_at", admin.EmptyFieldListFilter), "expired_at"]
    search_fields = ["user__email", "source_ref", "idempotency_key"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"


@admin.register(CreditTransaction)
class CreditTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "user", "kind", "operation", "quantity", "amount",
                    "balance_after", "actor"]
    list_filter = ["kind", "operation", "created_at"]
    search_fields = ["user__email", "operation", "idempotency_key"]
    list_select_related = ["user", "actor"]
    date_hierarchy = "created_at"
