"""Money received and money given back from the console: the mark-paid page (what was
received, when, with which bank reference) and the refund form of an order or an invoice."""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from backoffice.forms import MoneyField
from backoffice.policy import REFUSED, perform
from billing import models
from core.money import format_money, to_major_units


class RefundForm(forms.Form):
    """A refund of an order or of a subscription invoice (``order``: either; both have a
    currency and a refundable amount). A dispute is Stripe's to record, not a reason to pick."""

    reason = forms.ChoiceField(
        choices=[
            choice
            for choice in models.RefundReason.choices
            if choice[0] != models.RefundReason.DISPUTED
        ]
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000
    )

    def __init__(self, *args, order, **kwargs):
        self.order = order
        super().__init__(*args, **kwargs)
        self.fields = {
            "amount": MoneyField(
                currency=order.currency,
                help_text=f"In the order's currency ({order.currency.upper()}), e.g. "
                f"{to_major_units(1250, order.currency)}.",
            ),
            **self.fields,
        }

    def clean_amount(self):
        amount, remaining = self.cleaned_data["amount"], self.order.refundable_amount
        if amount > remaining:
            raise forms.ValidationError(
                f"This is larger than what is left to refund: "
                f"{format_money(remaining, self.order.currency)}."
            )
        return amount


# --- "mark paid": what was received, when, with which bank reference --------------------------


class MarkPaidForm(forms.Form):
    """One bank transfer: the amount received (major units; an invoice may be paid in parts),
    the day it came in and its bank reference."""

    paid_on = forms.DateField(
        label="Date received",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The day the money reached the bank account.",
    )
    reference = forms.CharField(
        label="Bank reference",
        max_length=255,
        required=False,
        help_text="As on the bank statement. Needed for a part "
        "payment, so the same transfer is never recorded "
        "twice.",
    )

    def __init__(self, *args, due: int, currency: str, parts: bool, **kwargs):
        self.due, self.currency = due, currency
        super().__init__(*args, **kwargs)
        self.fields["paid_on"].initial = timezone.localdate
        if parts:
            self.fields = {
                "amount": MoneyField(
                    currency=currency,
                    min_minor=None,
                    label="Amount received",
                    initial=to_major_units(due, currency),
                    help_text=f"{format_money(due, currency)} is due. Less records a part payment; "
                    "the rest stays due.",
                ),
                **self.fields,
            }

    def defaults(self) -> dict:
        """What each field holds when the page is shown: what a submit that leaves a field
        out entirely (rather than empty) stands for."""
        values = {
            name: field.initial() if callable(field.initial) else field.initial
            for name, field in self.fields.items()
        }
        return {
            self.add_prefix(name): "" if value is None else str(value)
            for name, value in values.items()
        }

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("Enter the amount received: more than zero.")
        if amount > self.due:
            raise forms.ValidationError(
                f"That is more than the {format_money(self.due, self.currency)} due: record at "
                "most what is due."
            )
        return amount

    def clean_paid_on(self):
        day = self.cleaned_data["paid_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("The date received cannot be in the future.")
        return day

    def clean(self):
        data = super().clean()
        amount = data.get("amount", self.due)
        if amount is not None and amount < self.due and not data.get("reference", "").strip():
            self.add_error("reference", "Enter the bank reference of this part payment.")
        return data


@dataclass
class PaymentRow:
    """A selected order or invoice on the mark-paid page: what is due, or why it cannot be
    marked paid (then it has no form)."""

    obj: models.Order | models.Invoice
    payload: dict
    due: int
    currency: str
    parts: bool  # the amount may be less than is due (the row has an invoice)
    refusal: str = ""
    form: MarkPaidForm | None = None

    @property
    def due_shown(self) -> str:
        return format_money(self.due, self.currency)


def record_payments(
    modeladmin, request, rows: list[PaymentRow], *, action: str, action_name: str, title: str
):
    """The mark-paid page of an admin action, and its submit: each payable row's form, all
    valid, goes to ``perform`` (within the staff member's limit for the amount received, or
    as an approval request); any error shows the page again with the errors beside their
    fields and nothing recorded."""
    confirmed = request.POST.get("confirm") == "yes"
    for row in rows:
        if row.refusal:
            continue
        form = MarkPaidForm(
            prefix=f"paid-{row.obj.pk}", due=row.due, currency=row.currency, parts=row.parts
        )
        if confirmed:
            data = request.POST.copy()
            for key, value in form.defaults().items():
                data.setdefault(key, value)
            form = MarkPaidForm(
                data, prefix=form.prefix, due=row.due, currency=row.currency, parts=row.parts
            )
        row.form = form
    payable = [row for row in rows if row.form is not None]
    payable_forms = [row.form for row in rows if row.form is not None]
    if not payable or (confirmed and all([form.is_valid() for form in payable_forms])):
        for row in rows:
            if row.refusal:
                modeladmin.message_user(request, f"{row.obj}: {row.refusal}", messages.WARNING)
        for row in payable:
            _record_payment(modeladmin, request, row, action=action)
        return None
    opts = modeladmin.model._meta
    return TemplateResponse(
        request,
        "billing/admin/mark_paid.html",
        {
            **modeladmin.admin_site.each_context(request),
            "opts": opts,
            "title": title,
            "rows": rows,
            "action": action_name,
            "changelist": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        },
        status=400 if confirmed else 200,
    )


def _record_payment(modeladmin, request, row: PaymentRow, *, action: str) -> None:
    """One row's valid form to ``perform``: the amount received, its date and reference."""
    assert row.form is not None  # only rows with a valid form are recorded
    data = row.form.cleaned_data
    amount = data.get("amount", row.due)
    rest = row.due - amount
    done = (
        f"{format_money(amount, row.currency)} received, "
        f"{format_money(rest, row.currency)} still due"
        if rest
        else f"marked paid ({format_money(amount, row.currency)} received)"
    )
    perform(
        modeladmin,
        request,
        action=action,
        subject=str(row.obj),
        amount=amount,
        currency=row.currency,
        done=done,
        payload={
            **row.payload,
            "amount": amount,
            "paid_on": data["paid_on"].isoformat(),
            "reference": data["reference"].strip(),
        },
    )


def invoice_payment_row(invoice, payload: dict) -> PaymentRow:
    refusal = ""
    if invoice.billing_source != models.BillingSource.MANUAL:
        refusal = "Stripe invoices are managed in Stripe."
    elif invoice.status == models.InvoiceStatus.PAID:
        refusal = "already paid."
    elif invoice.status not in (models.InvoiceStatus.OPEN, models.InvoiceStatus.UNCOLLECTIBLE):
        refusal = "only an open invoice can be marked paid."
    return PaymentRow(
        obj=invoice,
        payload=payload,
        due=invoice.amount_due,
        currency=invoice.currency,
        parts=True,
        refusal=refusal,
    )


def order_payment_row(order) -> PaymentRow:
    invoice = order.invoice_or_none
    payload = {"order_id": order.pk}
    if (
        invoice is not None
        and order.billing_source == models.BillingSource.MANUAL
        and order.payment_status
        not in (models.PaymentStatus.SUCCEEDED, models.PaymentStatus.REFUNDED)
    ):
        row = invoice_payment_row(invoice, payload)
        row.obj = order
    else:
        row = PaymentRow(
            obj=order, payload=payload, due=order.total, currency=order.currency, parts=False
        )
    if order.billing_source != models.BillingSource.MANUAL:
        row.refusal = "only manual (bank transfer) orders can be marked paid."
    elif order.payment_status in (models.PaymentStatus.SUCCEEDED, models.PaymentStatus.REFUNDED):
        row.refusal = "already paid."
    elif order.status not in (models.OrderStatus.PENDING, models.OrderStatus.PROCESSING):
        row.refusal = "this order cannot be marked as paid in its current state."
    return row


def open_refund_form(model_admin, request, queryset, *, kind: str):
    """The refund action: one selected order or invoice (``kind``), whose form it opens."""
    if queryset.count() != 1:
        model_admin.message_user(request, f"Select exactly one {kind} to refund.", messages.ERROR)
        return None
    return redirect(reverse(f"admin:billing_{kind}_refund", args=[queryset.get().pk]))


def refund_page(model_admin, request, document, *, kind: str, template: str):
    """The refund form of a paid order or invoice (``kind``): one service, one policy and the
    same approvals for both (the money goes back through Stripe for what Stripe billed)."""
    form = RefundForm(request.POST or None, order=document)
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        payload = {
            "user_id": document.user_id,
            f"{kind}_id": document.pk,
            "amount": amount,
            "reason": form.cleaned_data["reason"],
            "notes": form.cleaned_data["notes"],
        }
        outcome = perform(
            model_admin,
            request,
            action="billing.refund",
            subject=document.number,
            payload=payload,
            amount=amount,
            currency=document.currency,
            done=f"refund of {format_money(amount, document.currency)} recorded",
        )
        if outcome != REFUSED:
            return redirect(reverse(f"admin:billing_{kind}_change", args=[document.pk]))
        form.add_error(None, "The refund was not made: see the message above.")
    context = {
        **model_admin.admin_site.each_context(request),
        kind: document,
        "form": form,
        "remaining": format_money(document.refundable_amount, document.currency),
        "title": f"Refund {kind} {document.number}",
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(
        request, template, context, status=400 if request.method == "POST" else 200
    )
