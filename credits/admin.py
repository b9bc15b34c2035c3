"""Staff console for credits: costs are editable; balances, grants and the ledger are read-only
and change only through the services (the "adjust credits" action calls adjust_credits)."""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse

from backoffice.policy import perform, policy_action
from backoffice.readonly import ReadOnlyAdmin
from backoffice.search import by_id, by_user_email
from backoffice.tables import LargeTableAdmin
from core.system_config import get_config
from credits.models import (
    CREDITS_MAX,
    CreditBalance,
    CreditGrant,
    CreditTransaction,
    FeatureCost,
)


@admin.register(FeatureCost)
class FeatureCostAdmin(admin.ModelAdmin):
    list_display = ["operation", "name", "cost", "required_entitlement", "active", "updated_at"]
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


class CreditAmountField(forms.IntegerField):
    """A whole number of credits to add (positive) or remove (negative), within what a
    credits column holds (``CREDITS_MAX``): a larger number is a message next to the field,
    not a database error."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", -CREDITS_MAX)
        kwargs.setdefault("max_value", CREDITS_MAX)
        kwargs.setdefault(
            "error_messages",
            {
                "invalid": "Enter a whole number of credits.",
                "min_value": f"Remove at most {CREDITS_MAX:,} credits at a time.",
                "max_value": f"Add at most {CREDITS_MAX:,} credits at a time.",
            },
        )
        super().__init__(**kwargs)


def check_room(amount: int, balances) -> None:
    """Refuse adding ``amount`` credits where a balance would pass ``CREDITS_MAX``;
    ``balances`` are (whose, balance) pairs."""
    full = [
        f"{whose} has {balance:,}"
        for whose, balance in balances
        if amount > 0 and balance + amount > CREDITS_MAX
    ]
    if full:
        raise forms.ValidationError(
            f"A balance holds at most {CREDITS_MAX:,} credits: {'; '.join(full)}."
        )


class AdjustCreditsForm(forms.Form):
    amount = CreditAmountField(help_text="Credits to add; negative to remove (not below zero).")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        error_messages={"required": "A reason is required."},
        help_text="Required; stored in the ledger and the audit log.",
    )

    def __init__(self, *args, balances=(), **kwargs):
        self.balances = list(balances)
        super().__init__(*args, **kwargs)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("Enter a non-zero number of credits.")
        check_room(amount, self.balances)
        return amount

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
        rows = list(queryset.select_related("user").order_by("pk"))
        form = AdjustCreditsForm(
            request.POST if "apply" in request.POST else None,
            balances=[(row.user.email, row.balance) for row in rows],
        )
        if form.is_valid():
            amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
            for row in rows:
                # Removing counts like granting against the staff member's limit.
                perform(
                    self,
                    request,
                    action="credits.adjust",
                    subject=str(row.user),
                    payload={"user_id": row.user_id, "amount": amount, "reason": reason},
                    amount=abs(amount),
                    done=f"{amount:+,} credits adjusted",
                )
            return None
        return TemplateResponse(
            request,
            "credits/admin/adjust_credits.html",
            {
                **self.admin_site.each_context(request),
                "title": "Adjust credits",
                "form": form,
                "balances": rows,
                "opts": self.model._meta,
                "action_name": "adjust_credits",
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            },
        )


class OperationFilter(admin.SimpleListFilter):
    """The ledger by operation, the choices from the feature costs (not a DISTINCT over the
    ledger)."""

    title = "operation"
    parameter_name = "operation"

    def lookups(self, request, model_admin):
        return [
            (op, op)
            for op in FeatureCost.objects.order_by("operation").values_list("operation", flat=True)
        ]

    def queryset(self, request, queryset):
        return queryset.filter(operation=self.value()) if self.value() else queryset


@admin.register(CreditGrant)
class CreditGrantAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = [
        "id",
        "user",
        "source",
        "amount",
        "remaining",
        "expires_at",
        "expired_at",
        "source_ref",
        "created_at",
    ]
    list_filter = [
        "source",
        ("expires_at", admin.EmptyFieldListFilter),
        ("expired_at", admin.EmptyFieldListFilter),
        "created_at",
    ]
    search_by = (by_id("lot id"), by_user_email())
    list_select_related = ["user"]
    # Newest first along the primary key (lots are numbered as they are made).
    ordering = ["-id"]
    date_hierarchy = "created_at"


@admin.register(CreditTransaction)
class CreditTransactionAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "user",
        "kind",
        "operation",
        "quantity",
        "amount",
        "balance_after",
        "actor",
    ]
    list_filter = ["kind", OperationFilter, "created_at"]
    search_by = (by_id("row id"), by_user_email())
    list_select_related = ["user", "actor"]
    ordering = ["-created_at", "-id"]  # credits_txn_time_idx
    date_hierarchy = "created_at"
