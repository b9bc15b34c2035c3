"""The staff console for billing. Actions call services; money rows are read-only here."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from billing import models
from billing.services import inbox
from billing.services.payments import cancel_order, mark_paid_manually
from billing.services.refunds import create_refund
from catalog.money import currency_exponent, format_money
from config.api import DomainError


class AuditedAdmin(admin.ModelAdmin):
    """Staff edits made in the console are written to the audit log in the same transaction."""

    def save_model(self, request, obj, form, change):
        from django.db import transaction

        from accounts import audit
        from accounts.models import AuditAction

        with transaction.atomic():
            old = {}
            if change:
                before = type(obj).objects.get(pk=obj.pk)
                old = {name: getattr(before, name, None) for name in form.changed_data}
            super().save_model(request, obj, form, change)
            audit.record(actor=request.user,
                         action=AuditAction.UPDATE if change else AuditAction.CREATE,
                         resource=obj, old=old,
                         new={name: form.cleaned_data.get(name) for name in form.changed_data})


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderItemInline(ReadOnlyInline):
    model = models.OrderItem
    fields = ["description", "product", "variant", "price", "quantity", "unit_amount",
              "line_total", "discount_amount", "tax", "download_count", "download_limit",
              "access_expires_at"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = models.Payment
    fields = ["provider", "provider_id", "amount", "currency", "status", "paid_at"]
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = models.Refund
    fields = ["amount", "currency", "reason", "status", "stripe_refund_id", "notes",
              "requested_by", "created_at"]
    readonly_fields = fields


class RefundForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.001"), decimal_places=3,
                                help_text="In the order's currency, e.g. 12.50.")
    reason = forms.ChoiceField(choices=models.RefundReason.choices)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                            max_length=2000)

    def __init__(self, *args, order, **kwargs):
        self.order = order
        super().__init__(*args, **kwargs)

    def clean_amount(self):
        exponent = currency_exponent(self.order.currency)
        try:
            minor = self.cleaned_data["amount"].scaleb(exponent)
        except InvalidOperation as exc:
            raise forms.ValidationError("Enter an amount.") from exc
        if minor != minor.to_integral_value():
            raise forms.ValidationError(f"Use at most {exponent} decimals for "
                                        f"{self.order.currency.upper()}.")
        return int(minor)


@admin.register(models.Order)
class OrderAdmin(AuditedAdmin):
    list_display = ["number", "user", "status", "payment_status", "billing_source", "total_display",
                    "refunded_display", "created_at"]
    list_filter = ["status", "payment_status", "billing_source", "created_at",
                   ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["number", "user__email", "stripe_checkout_session_id",
                     "stripe_payment_intent_id"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline, PaymentInline, RefundInline]
    readonly_fields = [f.name for f in models.Order._meta.fields if f.name != "internal_notes"]
    actions = ["action_mark_paid", "action_cancel", "action_refund"]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Total")
    def total_display(self, obj):
        return format_money(obj.total, obj.currency)

    @admin.display(description="Refunded")
    def refunded_display(self, obj):
        return format_money(obj.refunded_amount, obj.currency)

    def get_urls(self):
        return [path("<int:order_id>/refund/", self.admin_site.admin_view(self.refund_view),
                     name="billing_order_refund")] + super().get_urls()

    @admin.action(description="Mark paid (bank transfer received)")
    def action_mark_paid(self, request, queryset):
        for order in queryset:
            try:
                mark_paid_manually(order_id=order.pk, actor=request.user)
                self.message_user(request, f"{order.number} marked paid.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{order.number}: {exc.message}", messages.ERROR)

    @admin.action(description="Cancel unpaid orders")
    def action_cancel(self, request, queryset):
        for order in queryset:
            try:
                cancel_order(order_id=order.pk, actor=request.user, reason="Cancelled by staff.")
                self.message_user(request, f"{order.number} cancelled.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{order.number}: {exc.message}", messages.ERROR)

    @admin.action(description="Refund (opens a form)")
    def action_refund(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one order to refund.", messages.ERROR)
            return None
        return redirect(reverse("admin:billing_order_refund", args=[queryset.get().pk]))

    def refund_view(self, request, order_id):
        order = get_object_or_404(models.Order, pk=order_id)
        form = RefundForm(request.POST or None, order=order)
        if request.method == "POST" and form.is_valid():
            try:
                refund = create_refund(order_id=order.pk, amount=form.cleaned_data["amount"],
                                       reason=form.cleaned_data["reason"],
                                       notes=form.cleaned_data["notes"], actor=request.user)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                shown = format_money(refund.amount, refund.currency)
                self.message_user(request, f"Refund of {shown} recorded "
                                  f"({refund.get_status_display()}).", messages.SUCCESS)
                return redirect(reverse("admin:billing_order_change", args=[order.pk]))
        context = {**self.admin_site.each_context(request), "order": order, "form": form,
                   "remaining": format_money(order.total - order.refunded_amount,
                                             order.currency),
                   "title": f"Refund order {order.number}", "opts": self.model._meta}
        return TemplateResponse(request, "billing/admin/refund_form.html", context,
                                status=400 if request.method == "POST" else 200)


@admin.register(models.Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "user", "provider", "amount", "currency", "status", "paid_at"]
    list_filter = ["provider", "status", "paid_at"]
    search_fields = ["order__number", "user__email", "provider_id"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Refund)
class RefundAdmin(PaymentAdmin):
    list_display = ["id", "order", "amount", "currency", "reason", "status", "provider",
                    "requested_by", "created_at"]
    list_filter = ["status", "reason", "provider", "created_at"]
    search_fields = ["order__number", "order__user__email", "stripe_refund_id"]


class DiscountUsageInline(ReadOnlyInline):
    model = models.DiscountUsage
    fields = ["order", "user", "amount_saved", "currency", "created_at"]
    readonly_fields = fields


@admin.register(models.Discount)
class DiscountAdmin(AuditedAdmin):
    list_display = ["code", "name", "type", "percent_off", "amount_off", "currency", "uses_count",
                    "max_uses", "valid_from", "valid_until", "active"]
    list_filter = ["active", "type", "first_time_only"]
    search_fields = ["code", "name"]
    readonly_fields = ["uses_count"]
    filter_horizontal = ["products"]
    inlines = [DiscountUsageInline]


@admin.register(models.Invoice)
class InvoiceAdmin(PaymentAdmin):
    list_display = ["number", "user", "order", "status", "total", "amount_due", "currency",
                    "due_date", "paid_at"]
    list_filter = ["status", "billing_source", "due_date"]
    search_fields = ["number", "user__email", "order__number", "stripe_invoice_id"]


@admin.register(models.Subscription)
class SubscriptionAdmin(AuditedAdmin):
    list_display = ["id", "user", "plan", "status", "current_period_end", "billing_source"]
    list_filter = ["status", "billing_source"]
    search_fields = ["user__email", "stripe_subscription_id"]
    raw_id_fields = ["user"]


@admin.register(models.CustomerBillingProfile)
class CustomerBillingProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "stripe_customer_id", "billing_email"]
    search_fields = ["user__email", "stripe_customer_id", "billing_email"]
    raw_id_fields = ["user", "djstripe_customer"]


@admin.register(models.PaymentMethod)
class PaymentMethodAdmin(PaymentAdmin):
    list_display = ["stripe_payment_method_id", "user", "brand", "last4", "exp_month",
                    "exp_year", "is_default"]
    list_filter = ["type", "brand"]
    search_fields = ["user__email", "stripe_payment_method_id"]


@admin.register(models.WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["stripe_event_id", "type", "status", "attempts", "received_at",
                    "processed_at", "next_attempt_at"]
    list_filter = ["status", "type", "received_at"]
    search_fields = ["stripe_event_id", "object_id", "type"]
    actions = ["action_replay"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Replay selected events")
    def action_replay(self, request, queryset):
        count = inbox.replay(event_ids=list(queryset.values_list("id", flat=True)),
                             actor=request.user)
        self.message_user(request, f"{count} event(s) queued for processing again.",
                          messages.SUCCESS)
