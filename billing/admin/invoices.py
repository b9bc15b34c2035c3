"""Invoices, payments, refunds and credit notes."""

from django.contrib import admin
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.html import format_html, format_html_join

from backoffice.confirm import confirm_first
from backoffice.policy import policy_action
from backoffice.readonly import ReadOnlyInline
from backoffice.search import Search, by_exact, by_id, by_related, by_user_email
from backoffice.tables import LargeTableAdmin
from billing import models
from billing.admin.common import (
    INVOICE_NUMBER,
    ORDER_NUMBER,
    RecordAdmin,
    RefundInline,
    by_invoice_number,
    money_column,
    run_each,
)
from billing.admin.payments import (
    invoice_payment_row,
    open_refund_form,
    record_payments,
    refund_page,
)
from billing.services.invoices import finalize_invoice, send_invoice, void_invoice
from core.money import format_money


class InvoicePaymentInline(ReadOnlyInline):
    model = models.Payment
    fk_name = "invoice"
    fields = ("provider", "provider_id", money_column("amount"), "status", "paid_at", "recorded_by")
    readonly_fields = fields


@admin.display(description="Lines")
def invoice_lines(invoice):
    """The invoice's lines as a small table, amounts in the invoice's currency."""

    def money(value):
        return "" if value in (None, "") else format_money(int(value), invoice.currency)

    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                line.get("description", ""),
                line.get("quantity", ""),
                money(line.get("unit_amount")),
                money(line.get("amount")),
            )
            for line in invoice.lines or []
            if isinstance(line, dict)
        ),
    )
    if not rows:
        return None
    return format_html(
        "<table><thead><tr><th>Description</th><th>Quantity</th>"
        "<th>Unit amount</th><th>Amount</th></tr></thead><tbody>{}</tbody>"
        "</table>",
        rows,
    )


@admin.register(models.Invoice)
class InvoiceAdmin(LargeTableAdmin, RecordAdmin):
    # What fits 1280 px; the order, subscription, billing source, amount paid and payment
    # date are on the invoice's page.
    list_display = [
        "number",
        "user",
        "status",
        money_column("total"),
        money_column("amount_due", label="Due"),
        "due_date",
        "created_at",
    ]
    list_filter = ["status", "billing_source", "created_at"]
    search_by = (
        by_invoice_number(),
        by_user_email(),
        by_related(
            "order",
            "number__startswith",
            label="order number",
            fits=ORDER_NUMBER,
            normalize=str.upper,
        ),
        by_exact("stripe_invoice_id", label="Stripe invoice", fits=r"in_\S+"),
        by_id("invoice id"),
    )
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    money_fields = (
        "subtotal",
        "discount_amount",
        "tax",
        "total",
        "amount_paid",
        "amount_due",
        "refunded_amount",
    )
    inlines = [InvoicePaymentInline, RefundInline]
    actions = ["action_finalize", "action_mark_paid", "action_void", "action_send", "action_refund"]
    policy_urls = {"billing_invoice_refund": "billing.refund"}

    def get_urls(self):
        return [
            path(
                "<int:invoice_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="billing_invoice_refund",
            )
        ] + super().get_urls()

    @policy_action("billing.refund", description="Refund a paid invoice (opens a form)")
    def action_refund(self, request, queryset):
        return open_refund_form(self, request, queryset, kind="invoice")

    def refund_view(self, request, invoice_id):
        invoice = get_object_or_404(models.Invoice, pk=invoice_id)
        return refund_page(
            self,
            request,
            invoice,
            kind="invoice",
            template="billing/admin/invoice_refund_form.html",
        )

    def get_readonly_fields(self, request, obj=None):
        return [
            invoice_lines if name == "lines" else name
            for name in super().get_readonly_fields(request, obj)
        ]

    def get_exclude(self, request, obj=None):
        return [*super().get_exclude(request, obj), "lines"]

    @policy_action("billing.invoice.finalize", description="Finalise draft invoices")
    @confirm_first(
        "Finalise these invoices? Their numbers and amounts are then fixed.", "Yes, finalise"
    )
    def action_finalize(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda i: finalize_invoice(invoice_id=i.pk, actor=request.user),
            "finalised",
        )

    @policy_action(
        "billing.invoice.mark_paid", description="Mark paid (bank transfer received: opens a form)"
    )
    def action_mark_paid(self, request, queryset):
        rows = [invoice_payment_row(invoice, {"invoice_id": invoice.pk}) for invoice in queryset]
        return record_payments(
            self,
            request,
            rows,
            action="billing.invoice.mark_paid",
            action_name="action_mark_paid",
            title="Mark these invoices paid?",
        )

    @policy_action("billing.invoice.void", description="Void invoices")
    @confirm_first("Void these invoices? A voided invoice cannot be paid or reopened.", "Yes, void")
    def action_void(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda i: void_invoice(invoice_id=i.pk, actor=request.user),
            "voided",
        )

    @policy_action("billing.invoice.send", description="Send invoices by e-mail")
    def action_send(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            lambda i: send_invoice(invoice_id=i.pk, actor=request.user),
            "sent",
        )


@admin.register(models.Payment)
class PaymentAdmin(LargeTableAdmin, RecordAdmin):
    list_display = [
        "id",
        "receipt_number",
        "user",
        "order",
        "invoice",
        money_column("amount"),
        "status",
        "paid_at",
    ]
    list_filter = ["provider", "status", "created_at"]
    search_by = (
        by_related(
            "order",
            "number__startswith",
            label="order number",
            fits=ORDER_NUMBER,
            normalize=str.upper,
        ),
        by_related(
            "invoice",
            "number__startswith",
            label="invoice number",
            fits=INVOICE_NUMBER,
            normalize=str.upper,
        ),
        by_user_email(),
        # The (provider, provider_id) unique index: every provider, then the id.
        Search(
            "Stripe payment or bank reference",
            r"\S+",
            lambda model, term: Q(provider__in=models.BillingSource.values, provider_id=term),
        ),
        by_id("payment id"),
    )
    list_select_related = ["order", "invoice", "user"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    money_fields = ("amount",)


@admin.register(models.Refund)
class RefundAdmin(RecordAdmin):
    list_display = [
        "id",
        "order",
        money_column("amount"),
        "reason",
        "status",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "reason", "provider", "created_at"]
    search_fields = ["order__number", "order__user__email", "stripe_refund_id"]
    money_fields = ("amount",)


class CreditsStillOwedFilter(admin.SimpleListFilter):
    """Credit notes whose plan credits could not all be taken back (already spent)."""

    title = "plan credits"
    parameter_name = "credits_owed"

    def lookups(self, request, model_admin):
        return [("yes", "Some could not be taken back")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(credits_unrecovered__gt=0)
        return queryset


@admin.register(models.CreditNote)
class CreditNoteAdmin(LargeTableAdmin, RecordAdmin):
    """Credit notes are issued by refunds and disputes only: read-only here."""

    list_display = [
        "number",
        "user",
        "invoice",
        money_column("amount"),
        "reason",
        "credits_clawed_back",
        "credits_unrecovered",
        "created_at",
    ]
    list_filter = [CreditsStillOwedFilter, "reason", "created_at"]
    search_by = (
        by_exact("number", label="credit note number", fits=r"CN-\S+", normalize=str.upper),
        by_user_email(),
        by_related(
            "invoice", "number", label="invoice number", fits=r"INV-\S+", normalize=str.upper
        ),
        by_id("credit note id"),
    )
    list_select_related = ["user", "invoice"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    money_fields = ("amount",)
