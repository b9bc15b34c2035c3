"""Orders: their lines, payments and refunds; mark paid, cancel, refund."""

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404
from django.urls import path

from backoffice.audited import AuditedAdmin
from backoffice.confirm import confirm_first
from backoffice.policy import policy_action
from backoffice.readonly import ReadOnlyInline
from backoffice.search import by_exact, by_id, by_user_email
from backoffice.tables import LargeTableAdmin
from billing import models
from billing.admin.common import MoneyAdminMixin, RefundInline, by_order_number, money_column
from billing.admin.payments import open_refund_form, order_payment_row, record_payments, refund_page
from billing.services.payments import cancel_order
from core.api import DomainError


class OrderItemInline(ReadOnlyInline):
    model = models.OrderItem
    fields = (
        "description",
        "product",
        "variant",
        "price",
        "quantity",
        money_column("unit_amount", "order.currency"),
        money_column("line_total", "order.currency"),
        money_column("discount_amount", "order.currency", "Discount"),
        money_column("tax", "order.currency"),
        "download_count",
        "download_limit",
        "access_expires_at",
    )
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = models.Payment
    fields = ("provider", "provider_id", money_column("amount"), "status", "paid_at")
    readonly_fields = fields


@admin.register(models.Order)
class OrderAdmin(LargeTableAdmin, MoneyAdminMixin, AuditedAdmin):
    list_display = [
        "number",
        "user",
        "status",
        "payment_status",
        money_column("total"),
        money_column("refunded_amount", label="Refunded"),
        "created_at",
    ]
    list_filter = ["status", "payment_status", "billing_source", "created_at"]
    search_by = (
        by_order_number(),
        by_user_email(),
        by_exact("stripe_checkout_session_id", label="Stripe checkout session", fits=r"cs_\S+"),
        by_exact("stripe_payment_intent_id", label="Stripe payment", fits=r"pi_\S+"),
        by_id("order id"),
    )
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    inlines = [OrderItemInline, PaymentInline, RefundInline]
    readonly_fields = [f.name for f in models.Order._meta.fields if f.name != "internal_notes"]
    money_fields = ("subtotal", "discount_amount", "tax", "total", "refunded_amount")
    actions = ["action_mark_paid", "action_cancel", "action_refund"]
    list_select_related = ["user"]
    policy_urls = {"billing_order_refund": "billing.refund"}

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:order_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="billing_order_refund",
            )
        ] + super().get_urls()

    @policy_action(
        "billing.order.mark_paid", description="Mark paid (bank transfer received: opens a form)"
    )
    def action_mark_paid(self, request, queryset):
        rows = [order_payment_row(order) for order in queryset.select_related("invoice")]
        return record_payments(
            self,
            request,
            rows,
            action="billing.order.mark_paid",
            action_name="action_mark_paid",
            title="Mark these orders paid?",
        )

    @policy_action("billing.order.cancel", description="Cancel unpaid orders")
    @confirm_first("Cancel these orders?", "Yes, cancel the orders")
    def action_cancel(self, request, queryset):
        for order in queryset:
            try:
                cancel_order(order_id=order.pk, actor=request.user, reason="Cancelled by staff.")
                self.message_user(request, f"{order.number} cancelled.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{order.number}: {exc.message}", messages.ERROR)

    @policy_action("billing.refund", description="Refund (opens a form)")
    def action_refund(self, request, queryset):
        return open_refund_form(self, request, queryset, kind="order")

    def refund_view(self, request, order_id):
        order = get_object_or_404(models.Order, pk=order_id)
        return refund_page(
            self, request, order, kind="order", template="billing/admin/refund_form.html"
        )
