"""The staff console for billing. Actions call services; money rows are read-only here.

Money is shown as people read it, in major units with its currency (``$711.00``, ``¥5,000``,
through ``core.money.format_money``), and typed the same way (``config.admin.MoneyField``).
"""

import functools
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts import authority
from billing import admin_mirror, models, stripe_client
from billing.services import inbox
from billing.services.payments import cancel_order
from config.admin import (
    REFUSED,
    IndexedValuesFilter,
    LargeTableAdmin,
    MoneyField,
    Search,
    by_exact,
    by_id,
    by_prefix,
    by_related,
    by_user_email,
    perform,
    policy_action,
)
from core.api import DomainError
from core.money import format_money, to_major_units
from core.system_config import get_config


def confirm_first(question: str, button: str):
    """An admin action that changes money or access asks once before it runs.

    The first POST (from the changelist's action menu) renders a page listing the selected
    rows with a confirm button; only a POST carrying ``confirm`` runs the action.
    """
    def decorate(action):
        def wrapper(modeladmin, request, queryset):
            if request.POST.get("confirm") != "yes":
                opts = modeladmin.model._meta
                return TemplateResponse(request, "billing/admin/confirm_action.html", {
                    **modeladmin.admin_site.each_context(request), "opts": opts,
                    "title": question, "question": question, "button": button,
                    "queryset": queryset, "action": action.__name__,
                    "changelist": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
                })
            return action(modeladmin, request, queryset)
        wrapper.__name__ = action.__name__
        wrapper.__doc__ = action.__doc__
        return wrapper
    return decorate


# --- money as people read it -----------------------------------------------------------------


def currency_of(obj, path: str = "currency") -> str:
    """The currency at ``path`` ("currency", "order.currency", "price.currency") of ``obj``;
    the default currency when there is none (a percentage discount, a subscription without
    a price)."""
    value = obj
    for name in path.split("."):
        value = getattr(value, name, None)
        if value is None:
            break
    return value or get_config("default_currency")


@functools.cache
def money_column(field: str, currency: str = "currency", label: str = ""):
    """A list or detail column showing the model field ``field`` (minor units) in major units
    with the row's currency (at ``currency``, see ``currency_of``). One function per
    arguments, so the admin recognises it as the same read-only field on every call."""
    def shown(obj):
        value = getattr(obj, field)
        return None if value is None else format_money(value, currency_of(obj, currency))
    shown.__name__ = f"{field}_shown"
    return admin.display(description=label or field.replace("_", " ").capitalize(),
                         ordering=field)(shown)


class MoneyAdminMixin:
    """Shows the model's money fields (``money_fields``, minor units) in major units with
    their currency (at ``money_currency``): a read-only money field is replaced by its
    ``money_column`` on the detail page, and so is every money field of a view-only page.
    A money field the admin's form declares (typed in major units, ``MoneyField``) stays
    editable for those who may change the row."""

    money_fields: tuple[str, ...] = ()
    money_currency = "currency"

    def _shown(self, name):
        return money_column(name, self.money_currency)

    def _typed(self, request, obj) -> set[str]:
        if not self.has_change_permission(request, obj):
            return set()
        return {name for name in self.money_fields if name in self.form.declared_fields}

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or ()),
                *(name for name in self.money_fields if name not in self.form.declared_fields)]

    def get_readonly_fields(self, request, obj=None):
        return self.with_money(request, obj, super().get_readonly_fields(request, obj))

    def with_money(self, request, obj, readonly) -> list:
        """``readonly`` with each money field shown as money (for an admin that lists its
        read-only fields itself)."""
        typed = self._typed(request, obj)
        fields = [self._shown(name) if name in self.money_fields else name for name in readonly]
        return fields + [self._shown(name) for name in self.money_fields
                         if name not in typed and self._shown(name) not in fields]

    def get_fields(self, request, obj=None):
        typed = self._typed(request, obj)
        return [name for name in super().get_fields(request, obj)
                if not (isinstance(name, str) and name in self.money_fields
                        and name not in typed)]


class AuditedAdmin(admin.ModelAdmin):
    """Staff edits made in the console are written to the audit log in the same transaction."""

    def save_model(self, request, obj, form, change):
        from django.db import transaction

        from core import audit
        from core.models import AuditAction

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
    fields = ["description", "product", "variant", "price", "quantity",
              money_column("unit_amount", "order.currency"),
              money_column("line_total", "order.currency"),
              money_column("discount_amount", "order.currency", "Discount"),
              money_column("tax", "order.currency"), "download_count", "download_limit",
              "access_expires_at"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = models.Payment
    fields = ["provider", "provider_id", money_column("amount"), "status", "paid_at"]
    readonly_fields = fields


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


class RefundInline(ReadOnlyInline):
    model = models.Refund
    fields = [money_column("amount"), "reason", "status", "stripe_refund_id", "notes",
              "requested_by", "created_at"]
    readonly_fields = fields


class RefundForm(forms.Form):
    """A refund of an order or of a subscription invoice (``order``: either; both have a
    currency and a refundable amount). A dispute is Stripe's to record, not a reason to pick."""

    reason = forms.ChoiceField(choices=[choice for choice in models.RefundReason.choices
                                        if choice[0] != models.RefundReason.DISPUTED])
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                            max_length=2000)

    def __init__(self, *args, order, **kwargs):
        self.order = order
        super().__init__(*args, **kwargs)
        self.fields = {"amount": MoneyField(
            currency=order.currency,
            help_text=f"In the order's currency ({order.currency.upper()}), e.g. "
                      f"{to_major_units(1250, order.currency)}."),
            **self.fields}

    def clean_amount(self):
        amount, remaining = self.cleaned_data["amount"], self.order.refundable_amount
        if amount > remaining:
            raise forms.ValidationError(
                f"This is larger than what is left to refund: "
                f"{format_money(remaining, self.order.currency)}.")
        return amount


# --- "mark paid": what was received, when, with which bank reference --------------------------


class MarkPaidForm(forms.Form):
    """One bank transfer: the amount received (major units; an invoice may be paid in parts),
    the day it came in and its bank reference."""

    paid_on = forms.DateField(label="Date received",
                              widget=forms.DateInput(attrs={"type": "date"}),
                              help_text="The day the money reached the bank account.")
    reference = forms.CharField(label="Bank reference", max_length=255, required=False,
                                help_text="As on the bank statement. Needed for a part "
                                          "payment, so the same transfer is never recorded "
                                          "twice.")

    def __init__(self, *args, due: int, currency: str, parts: bool, **kwargs):
        self.due, self.currency = due, currency
        super().__init__(*args, **kwargs)
        self.fields["paid_on"].initial = timezone.localdate
        if parts:
            self.fields = {"amount": MoneyField(
                currency=currency, min_minor=None, label="Amount received",
                initial=to_major_units(due, currency),
                help_text=f"{format_money(due, currency)} is due. Less records a part payment; "
                          "the rest stays due."), **self.fields}

    def defaults(self) -> dict:
        """What each field holds when the page is shown: what a submit that leaves a field
        out entirely (rather than empty) stands for."""
        values = {name: field.initial() if callable(field.initial) else field.initial
                  for name, field in self.fields.items()}
        return {self.add_prefix(name): "" if value is None else str(value)
                for name, value in values.items()}

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("Enter the amount received: more than zero.")
        if amount > self.due:
            raise forms.ValidationError(
                f"That is more than the {format_money(self.due, self.currency)} due: record at "
                "most what is due.")
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

    obj: object
    payload: dict
    due: int
    currency: str
    parts: bool  # the amount may be less than is due (the row has an invoice)
    refusal: str = ""
    form: MarkPaidForm | None = None

    @property
    def due_shown(self) -> str:
        return format_money(self.due, self.currency)


def record_payments(modeladmin, request, rows: list[PaymentRow], *, action: str, action_name: str,
                    title: str):
    """The mark-paid page of an admin action, and its submit: each payable row's form, all
    valid, goes to ``perform`` (within the staff member's limit for the amount received, or
    as an approval request); any error shows the page again with the errors beside their
    fields and nothing recorded."""
    confirmed = request.POST.get("confirm") == "yes"
    for row in rows:
        if row.refusal:
            continue
        form = MarkPaidForm(prefix=f"paid-{row.obj.pk}", due=row.due, currency=row.currency,
                            parts=row.parts)
        if confirmed:
            data = request.POST.copy()
            for key, value in form.defaults().items():
                data.setdefault(key, value)
            form = MarkPaidForm(data, prefix=form.prefix, due=row.due, currency=row.currency,
                                parts=row.parts)
        row.form = form
    payable = [row for row in rows if row.form is not None]
    if not payable or (confirmed and all([row.form.is_valid() for row in payable])):
        for row in rows:
            if row.refusal:
                modeladmin.message_user(request, f"{row.obj}: {row.refusal}", messages.WARNING)
        for row in payable:
            data = row.form.cleaned_data
            amount = data.get("amount", row.due)
            rest = row.due - amount
            done = (f"{format_money(amount, row.currency)} received, "
                    f"{format_money(rest, row.currency)} still due" if rest
                    else f"marked paid ({format_money(amount, row.currency)} received)")
            perform(modeladmin, request, action=action, subject=str(row.obj), amount=amount,
                    currency=row.currency, done=done,
                    payload={**row.payload, "amount": amount,
                             "paid_on": data["paid_on"].isoformat(),
                             "reference": data["reference"].strip()})
        return None
    opts = modeladmin.model._meta
    return TemplateResponse(request, "billing/admin/mark_paid.html", {
        **modeladmin.admin_site.each_context(request), "opts": opts, "title": title,
        "rows": rows, "action": action_name,
        "changelist": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
    }, status=400 if confirmed else 200)


def invoice_payment_row(invoice, payload: dict) -> PaymentRow:
    refusal = ""
    if invoice.billing_source != models.BillingSource.MANUAL:
        refusal = "Stripe invoices are managed in Stripe."
    elif invoice.status == models.InvoiceStatus.PAID:
        refusal = "already paid."
    elif invoice.status not in (models.InvoiceStatus.OPEN, models.InvoiceStatus.UNCOLLECTIBLE):
        refusal = "only an open invoice can be marked paid."
    return PaymentRow(obj=invoice, payload=payload, due=invoice.amount_due,
                      currency=invoice.currency, parts=True, refusal=refusal)


def order_payment_row(order) -> PaymentRow:
    invoice = order.invoice_or_none
    payload = {"order_id": order.pk}
    if (invoice is not None and order.billing_source == models.BillingSource.MANUAL
            and order.payment_status not in (models.PaymentStatus.SUCCEEDED,
                                             models.PaymentStatus.REFUNDED)):
        row = invoice_payment_row(invoice, payload)
        row.obj = order
    else:
        row = PaymentRow(obj=order, payload=payload, due=order.total, currency=order.currency,
                         parts=False)
    if order.billing_source != models.BillingSource.MANUAL:
        row.refusal = "only manual (bank transfer) orders can be marked paid."
    elif order.payment_status in (models.PaymentStatus.SUCCEEDED, models.PaymentStatus.REFUNDED):
        row.refusal = "already paid."
    elif order.status not in (models.OrderStatus.PENDING, models.OrderStatus.PROCESSING):
        row.refusal = "this order cannot be marked as paid in its current state."
    return row


# How staff type what they look for; each goes to the index that answers it.
ORDER_NUMBER = r"(?i)ord-[\d-]*"
INVOICE_NUMBER = r"(?i)inv-[\d-]*"


def by_order_number(field: str = "number") -> Search:
    return by_prefix(field, label="order number (or its beginning)", fits=ORDER_NUMBER,
                     normalize=str.upper)


def by_invoice_number(field: str = "number") -> Search:
    return by_prefix(field, label="invoice number (or its beginning)", fits=INVOICE_NUMBER,
                     normalize=str.upper)


@admin.register(models.Order)
class OrderAdmin(LargeTableAdmin, MoneyAdminMixin, AuditedAdmin):
    list_display = ["number", "user", "status", "payment_status", money_column("total"),
                    money_column("refunded_amount", label="Refunded"), "created_at"]
    list_filter = ["status", "payment_status", "billing_source", "created_at"]
    search_by = (by_order_number(), by_user_email(),
                 by_exact("stripe_checkout_session_id", label="Stripe checkout session",
                          fits=r"cs_\S+"),
                 by_exact("stripe_payment_intent_id", label="Stripe payment", fits=r"pi_\S+"),
                 by_id("order id"))
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
        return [path("<int:order_id>/refund/", self.admin_site.admin_view(self.refund_view),
                     name="billing_order_refund")] + super().get_urls()

    @policy_action("billing.order.mark_paid",
                   description="Mark paid (bank transfer received: opens a form)")
    def action_mark_paid(self, request, queryset):
        rows = [order_payment_row(order) for order in queryset.select_related("invoice")]
        return record_payments(self, request, rows, action="billing.order.mark_paid",
                               action_name="action_mark_paid",
                               title="Mark these orders paid?")

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
        return _open_refund_form(self, request, queryset, kind="order")

    def refund_view(self, request, order_id):
        order = get_object_or_404(models.Order, pk=order_id)
        return _refund_page(self, request, order, kind="order",
                            template="billing/admin/refund_form.html")


def _open_refund_form(model_admin, request, queryset, *, kind: str):
    """The refund action: one selected order or invoice (``kind``), whose form it opens."""
    if queryset.count() != 1:
        model_admin.message_user(request, f"Select exactly one {kind} to refund.",
                                 messages.ERROR)
        return None
    return redirect(reverse(f"admin:billing_{kind}_refund", args=[queryset.get().pk]))


def _refund_page(model_admin, request, document, *, kind: str, template: str):
    """The refund form of a paid order or invoice (``kind``): one service, one policy and the
    same approvals for both (the money goes back through Stripe for what Stripe billed)."""
    form = RefundForm(request.POST or None, order=document)
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        payload = {"user_id": document.user_id, f"{kind}_id": document.pk, "amount": amount,
                   "reason": form.cleaned_data["reason"], "notes": form.cleaned_data["notes"]}
        outcome = perform(model_admin, request, action="billing.refund",
                          subject=document.number, payload=payload, amount=amount,
                          currency=document.currency,
                          done=f"refund of {format_money(amount, document.currency)} recorded")
        if outcome != REFUSED:
            return redirect(reverse(f"admin:billing_{kind}_change", args=[document.pk]))
        form.add_error(None, "The refund was not made: see the message above.")
    context = {**model_admin.admin_site.each_context(request), kind: document, "form": form,
               "remaining": format_money(document.refundable_amount, document.currency),
               "title": f"Refund {kind} {document.number}", "opts": model_admin.model._meta}
    return TemplateResponse(request, template, context,
                            status=400 if request.method == "POST" else 200)


class AllReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class RecordAdmin(MoneyAdminMixin, AllReadOnlyAdmin):
    """Rows written by the services: every field read-only, money in major units."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Payment)
class PaymentAdmin(LargeTableAdmin, RecordAdmin):
    list_display = ["id", "receipt_number", "user", "order", "invoice", money_column("amount"),
                    "status", "paid_at"]
    list_filter = ["provider", "status", "created_at"]
    search_by = (by_related("order", "number__startswith", label="order number",
                            fits=ORDER_NUMBER, normalize=str.upper),
                 by_related("invoice", "number__startswith", label="invoice number",
                            fits=INVOICE_NUMBER, normalize=str.upper),
                 by_user_email(),
                 # The (provider, provider_id) unique index: every provider, then the id.
                 Search("Stripe payment or bank reference", r"\S+", lambda model, term: Q(
                     provider__in=models.BillingSource.values, provider_id=term)),
                 by_id("payment id"))
    list_select_related = ["order", "invoice", "user"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    money_fields = ("amount",)


@admin.register(models.Refund)
class RefundAdmin(RecordAdmin):
    list_display = ["id", "order", money_column("amount"), "reason", "status",
                    "requested_by", "created_at"]
    list_filter = ["status", "reason", "provider", "created_at"]
    search_fields = ["order__number", "order__user__email", "stripe_refund_id"]
    money_fields = ("amount",)


class DiscountUsageInline(ReadOnlyInline):
    model = models.DiscountUsage
    fields = ["order", "subscription", "user", money_column("amount_saved"), "created_at"]
    readonly_fields = fields


class DiscountForm(forms.ModelForm):
    """A discount's amounts typed in major units: the amount off in the discount's currency,
    the minimum order amount in it too (the default currency for a percentage discount)."""

    amount_off = MoneyField(required=False, label="Amount off",
                            help_text="For a fixed-amount discount: in its currency, e.g. "
                                      "5.00.")
    minimum_amount = MoneyField(required=False, min_minor=0, label="Minimum order amount",
                                help_text="In the discount's currency (the default currency "
                                          "for a percentage discount), e.g. 50.00. Empty: no "
                                          "minimum.")

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


@admin.register(models.Discount)
class DiscountAdmin(MoneyAdminMixin, AuditedAdmin):
    form = DiscountForm
    list_display = ["code", "name", "type", "percent_off", money_column("amount_off"),
                    money_column("minimum_amount", label="Minimum amount"), "uses_count",
                    "max_uses", "valid_from", "valid_until", "active"]
    list_filter = ["active", "type", "first_time_only"]
    search_fields = ["code", "name"]
    readonly_fields = ["uses_count"]
    money_fields = ("amount_off", "minimum_amount")
    filter_horizontal = ["products"]
    inlines = [DiscountUsageInline]

    def has_add_permission(self, request):
        return authority.may(request.user, "billing.discount.change")

    def has_change_permission(self, request, obj=None):
        return authority.may(request.user, "billing.discount.change")

    def has_delete_permission(self, request, obj=None):
        return False  # past orders point at their discount: deactivate it instead


class InvoicePaymentInline(ReadOnlyInline):
    model = models.Payment
    fk_name = "invoice"
    fields = ["provider", "provider_id", money_column("amount"), "status", "paid_at",
              "recorded_by"]
    readonly_fields = fields


def _run(modeladmin, request, queryset, fn, label):
    """Call a service per row; report each outcome (refusals are messages, not 500s)."""
    for obj in queryset:
        try:
            fn(obj)
            modeladmin.message_user(request, f"{obj}: {label}.", messages.SUCCESS)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)


@admin.display(description="Lines")
def invoice_lines(invoice):
    """The invoice's lines as a small table, amounts in the invoice's currency."""
    def money(value):
        return "" if value in (None, "") else format_money(int(value), invoice.currency)

    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((line.get("description", ""), line.get("quantity", ""),
          money(line.get("unit_amount")), money(line.get("amount")))
         for line in invoice.lines or [] if isinstance(line, dict)))
    if not rows:
        return None
    return format_html('<table><thead><tr><th>Description</th><th>Quantity</th>'
                       '<th>Unit amount</th><th>Amount</th></tr></thead><tbody>{}</tbody>'
                       '</table>', rows)


@admin.register(models.Invoice)
class InvoiceAdmin(LargeTableAdmin, RecordAdmin):
    # What fits 1280 px; the order, subscription, billing source, amount paid and payment
    # date are on the invoice's page.
    list_display = ["number", "user", "status", money_column("total"),
                    money_column("amount_due", label="Due"), "due_date", "created_at"]
    list_filter = ["status", "billing_source", "created_at"]
    search_by = (by_invoice_number(), by_user_email(),
                 by_related("order", "number__startswith", label="order number",
                            fits=ORDER_NUMBER, normalize=str.upper),
                 by_exact("stripe_invoice_id", label="Stripe invoice", fits=r"in_\S+"),
                 by_id("invoice id"))
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    money_fields = ("subtotal", "discount_amount", "tax", "total", "amount_paid", "amount_due",
                    "refunded_amount")
    inlines = [InvoicePaymentInline, RefundInline]
    actions = ["action_finalize", "action_mark_paid", "action_void", "action_send",
               "action_refund"]
    policy_urls = {"billing_invoice_refund": "billing.refund"}

    def get_urls(self):
        return [path("<int:invoice_id>/refund/", self.admin_site.admin_view(self.refund_view),
                     name="billing_invoice_refund")] + super().get_urls()

    @policy_action("billing.refund", description="Refund a paid invoice (opens a form)")
    def action_refund(self, request, queryset):
        return _open_refund_form(self, request, queryset, kind="invoice")

    def refund_view(self, request, invoice_id):
        invoice = get_object_or_404(models.Invoice, pk=invoice_id)
        return _refund_page(self, request, invoice, kind="invoice",
                            template="billing/admin/invoice_refund_form.html")

    def get_readonly_fields(self, request, obj=None):
        return [invoice_lines if name == "lines" else name
                for name in super().get_readonly_fields(request, obj)]

    def get_exclude(self, request, obj=None):
        return [*super().get_exclude(request, obj), "lines"]

    @policy_action("billing.invoice.finalize", description="Finalise draft invoices")
    @confirm_first("Finalise these invoices? Their numbers and amounts are then fixed.",
                   "Yes, finalise")
    def action_finalize(self, request, queryset):
        from billing.services.invoices import finalize_invoice

        _run(self, request, queryset,
             lambda i: finalize_invoice(invoice_id=i.pk, actor=request.user), "finalised")

    @policy_action("billing.invoice.mark_paid",
                   description="Mark paid (bank transfer received: opens a form)")
    def action_mark_paid(self, request, queryset):
        rows = [invoice_payment_row(invoice, {"invoice_id": invoice.pk})
                for invoice in queryset]
        return record_payments(self, request, rows, action="billing.invoice.mark_paid",
                               action_name="action_mark_paid",
                               title="Mark these invoices paid?")

    @policy_action("billing.invoice.void", description="Void invoices")
    @confirm_first("Void these invoices? A voided invoice cannot be paid or reopened.",
                   "Yes, void")
    def action_void(self, request, queryset):
        from billing.services.invoices import void_invoice

        _run(self, request, queryset,
             lambda i: void_invoice(invoice_id=i.pk, actor=request.user), "voided")

    @policy_action("billing.invoice.send", description="Send invoices by e-mail")
    def action_send(self, request, queryset):
        from billing.services.invoices import send_invoice

        _run(self, request, queryset,
             lambda i: send_invoice(invoice_id=i.pk, actor=request.user), "sent")


class SubscriptionEventInline(ReadOnlyInline):
    model = models.SubscriptionEvent
    show_change_link = False
    fields = ["created_at", "type", "source", "message", "actor", "stripe_event_id"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]


class RenewingSoonFilter(admin.SimpleListFilter):
    title = "renewal"
    parameter_name = "renewing"

    def lookups(self, request, model_admin):
        return [("7", "Renewing within 7 days"), ("30", "Renewing within 30 days")]

    def queryset(self, request, queryset):
        from datetime import timedelta

        from django.utils import timezone

        if self.value() in ("7", "30"):
            now = timezone.now()
            return queryset.filter(status__in=["ACTIVE", "TRIALING"], cancel_at_period_end=False,
                                   current_period_end__gte=now,
                                   current_period_end__lte=now + timedelta(
                                       days=int(self.value())))
        return queryset


class ExtendTrialForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=90, initial=7,
                              help_text="Days added to the trial (1–90).")


def amount_at_risk(queryset):
    from django.db.models import Q, Sum
    from django.db.models.functions import Coalesce

    return queryset.annotate(at_risk=Coalesce(
        Sum("invoices__amount_due", filter=Q(invoices__status="OPEN")), 0))


@admin.register(models.Subscription)
class SubscriptionAdmin(MoneyAdminMixin, AuditedAdmin):
    list_display = ["id", "user", "plan", "status", "billing_source", "current_period_end",
                    "cancel_at_period_end", "at_risk_display"]
    list_filter = ["status", "plan", "billing_source", RenewingSoonFilter, "cancel_at_period_end"]
    search_fields = ["user__email", "stripe_subscription_id"]
    raw_id_fields = ["user"]
    inlines = [SubscriptionEventInline]
    money_fields = ("credit_balance",)
    money_currency = "price.currency"
    actions = ["action_cancel_now", "action_cancel_at_end", "action_extend_trial",
               "action_comp_period", "action_issue_invoice"]

    def get_readonly_fields(self, request, obj=None):
        # Money and lifecycle fields change only through the actions (services, audited,
        # Stripe kept in step); staff may annotate metadata.
        return self.with_money(request, obj, [f.name for f in self.model._meta.fields
                                              if f.name != "metadata"])

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return amount_at_risk(super().get_queryset(request).select_related("plan", "user"))

    @admin.display(description="Amount at risk", ordering="at_risk")
    def at_risk_display(self, obj):
        return format_money(getattr(obj, "at_risk", 0) or 0, currency_of(obj, "price.currency"))

    @policy_action("billing.subscription.cancel_now", description="Cancel now")
    @confirm_first("Cancel these subscriptions now? Access ends immediately.",
                   "Yes, cancel now")
    def action_cancel_now(self, request, queryset):
        from billing.services.subscriptions import cancel

        _run(self, request, queryset, lambda s: cancel(subscription=s, at_period_end=False,
                                                       actor=request.user), "cancelled")

    @policy_action("billing.subscription.cancel_at_end", description="Cancel at period end")
    @confirm_first("Cancel these subscriptions at the end of their period?",
                   "Yes, cancel at period end")
    def action_cancel_at_end(self, request, queryset):
        from billing.services.subscriptions import cancel

        _run(self, request, queryset, lambda s: cancel(subscription=s, at_period_end=True,
                                                       actor=request.user),
             "will end at the period end")

    @policy_action("billing.subscription.comp_period",
                   description="Give the next period free (comp)")
    @confirm_first("Give these subscriptions their next period free?", "Yes, comp the period")
    def action_comp_period(self, request, queryset):
        for sub in queryset.select_related("price"):
            amount = sub.price.unit_amount * sub.quantity if sub.price_id else 0
            perform(self, request, action="billing.subscription.comp_period", subject=str(sub),
                    payload={"subscription_id": sub.pk}, amount=amount,
                    currency=sub.price.currency if sub.price_id else "",
                    done="next period free")

    @policy_action("billing.invoice.issue",
                   description="Issue the current period's invoice (manual billing)")
    def action_issue_invoice(self, request, queryset):
        from billing.services.invoices import issue_period_invoice

        _run(self, request, queryset,
             lambda s: issue_period_invoice(subscription=s, actor=request.user),
             "invoice issued")

    @policy_action("billing.subscription.extend_trial",
                   description="Extend trial (opens a form)")
    def action_extend_trial(self, request, queryset):
        if "apply" in request.POST:
            form = ExtendTrialForm(request.POST)
            if form.is_valid():
                days = form.cleaned_data["days"]
                for sub in queryset:
                    trial_end = sub.trial_end
                    perform(self, request, action="billing.subscription.extend_trial",
                            subject=str(sub), amount=days,
                            payload={"user_id": sub.user_id, "subscription_id": sub.pk,
                                     "days": days,
                                     "trial_end": trial_end and trial_end.isoformat(),
                                     "reason": "Extended by staff from the admin."},
                            done=f"trial extended by {days} days")
                return None
        else:
            form = ExtendTrialForm()
        return TemplateResponse(request, "billing/admin/extend_trial.html", {
            **self.admin_site.each_context(request), "form": form, "queryset": queryset,
            "action": "action_extend_trial", "title": "Extend trial",
            "opts": self.model._meta})


@admin.register(models.PastDueSubscription)
class PastDueSubscriptionAdmin(MoneyAdminMixin, AllReadOnlyAdmin):
    """Dunning: every past-due or unpaid subscription with what is owed."""

    money_fields = ("credit_balance",)
    money_currency = "price.currency"

    list_display = ["id", "user", "plan", "status", "billing_source", "past_due_since",
                    "at_risk_display"]
    list_filter = ["status", "billing_source", "plan"]
    search_fields = ["user__email", "stripe_subscription_id"]
    ordering = ["past_due_since"]

    def get_queryset(self, request):
        return amount_at_risk(super().get_queryset(request).filter(
            status__in=["PAST_DUE", "UNPAID"]).select_related("plan", "user", "price"))

    @admin.display(description="Amount at risk", ordering="at_risk")
    def at_risk_display(self, obj):
        owed = getattr(obj, "at_risk", 0) or 0
        if not owed and obj.price_id:
            owed = obj.price.unit_amount * obj.quantity  # no invoice mirrored yet
        return format_money(owed, currency_of(obj, "price.currency"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _plan_count(status: str):
    """Subscribers of the row's plan in ``status`` (one subquery, no query per row)."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    counted = (models.Subscription.objects.filter(plan_id=OuterRef("pk"), status=status)
               .order_by().values("plan_id").annotate(n=Count("id")).values("n")[:1])
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(models.PlanSubscribers)
class PlanSubscribersAdmin(admin.ModelAdmin):
    """How many customers each plan has, by status that grants the plan."""

    list_display = ["name", "slug", "billing_source", "active", "monthly", "yearly",
                    "live_count", "trialing_count", "past_due_count"]
    actions = ["action_push_to_stripe", "action_pull_from_stripe"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "monthly_price", "yearly_price").annotate(
            live=_plan_count("ACTIVE"), trialing=_plan_count("TRIALING"),
            past_due=_plan_count("PAST_DUE"))

    @admin.display(description="Monthly price")
    def monthly(self, obj):
        price = obj.monthly_price
        return format_money(price.unit_amount, price.currency) if price else None

    @admin.display(description="Yearly price")
    def yearly(self, obj):
        price = obj.yearly_price
        return format_money(price.unit_amount, price.currency) if price else None

    @admin.display(description="Active", ordering="live")
    def live_count(self, obj):
        return obj.live

    @admin.display(description="Trialing", ordering="trialing")
    def trialing_count(self, obj):
        return obj.trialing

    @admin.display(description="Past due", ordering="past_due")
    def past_due_count(self, obj):
        return obj.past_due

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @policy_action("billing.stripe.sync", description="Push to Stripe")
    def action_push_to_stripe(self, request, queryset):
        from billing import sync

        report = sync.push_products(products=[plan.product for plan in queryset],
                                    actor=request.user)
        self.message_user(request, f"Pushed {report.pushed}, failed {report.failed}.",
                          messages.ERROR if report.failed else messages.SUCCESS)

    @policy_action("billing.stripe.sync", description="Pull the catalog from Stripe")
    def action_pull_from_stripe(self, request, queryset):
        from billing import sync

        try:
            report = sync.pull_catalog(actor=request.user)
        except (stripe_client.StripeUnavailable, stripe_client.stripe.StripeError) as exc:
            self.message_user(request, f"Could not read Stripe's catalog: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Created {report.created}, updated {report.updated}, "
                                   f"failed {report.failed}.",
                          messages.ERROR if report.failed else messages.SUCCESS)


@admin.register(models.CreditNote)
class CreditNoteAdmin(LargeTableAdmin, RecordAdmin):
    """Credit notes are issued by refunds and disputes only: read-only here."""

    list_display = ["number", "user", "invoice", money_column("amount"), "reason",
                    "credits_clawed_back", "credits_unrecovered", "created_at"]
    list_filter = [CreditsStillOwedFilter, "reason", "created_at"]
    search_by = (by_exact("number", label="credit note number", fits=r"CN-\S+",
                          normalize=str.upper),
                 by_user_email(),
                 by_related("invoice", "number", label="invoice number", fits=r"INV-\S+",
                            normalize=str.upper),
                 by_id("credit note id"))
    list_select_related = ["user", "invoice"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    money_fields = ("amount",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.StripeDrift)
class StripeDriftAdmin(admin.ModelAdmin):
    list_display = ["object_id", "field", "local_value", "stripe_value", "created_at",
                    "resolved_at"]
    list_filter = ["field", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["object_id"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(models.CustomerBillingProfile)
class CustomerBillingProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "stripe_customer_id", "billing_email"]
    search_fields = ["user__email", "stripe_customer_id", "billing_email"]
    raw_id_fields = ["user", "djstripe_customer"]


@admin.register(models.PaymentMethod)
class PaymentMethodAdmin(RecordAdmin):
    list_display = ["stripe_payment_method_id", "user", "brand", "last4", "exp_month",
                    "exp_year", "is_default"]
    list_filter = ["type", "brand"]
    search_fields = ["user__email", "stripe_payment_method_id"]


@admin.register(models.WebhookEvent)
class WebhookEventAdmin(LargeTableAdmin):
    list_display = ["stripe_event_id", "type", "status", "attempts", "received_at",
                    "processed_at", "next_attempt_at"]
    # created_at is the indexed twin of received_at (the inbox sets both in one statement).
    list_filter = ["status", ("type", IndexedValuesFilter), "created_at"]
    search_by = (by_exact("stripe_event_id", label="event id", fits=r"evt_\S+"),
                 by_exact("object_id", label="the Stripe object's id", fits=r"[a-z]+_\S+"),
                 by_prefix("type", label="type (or its beginning)",
                           fits=r"[a-z_]+\.[a-z_.]*"),
                 by_id())
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    actions = ["action_replay"]

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.fields]
        names.insert(names.index("api_version") + 1, "api_version_check")
        return names

    @admin.display(description="API version check")
    def api_version_check(self, obj):
        from billing import stripe_client
        from billing.webhook_handlers import version_differs

        if obj is None or not obj.api_version:
            return "-"
        if not version_differs(obj):
            return f"Same as ours ({stripe_client.api_version()})."
        return (f"Differs: the event was written in {obj.api_version}, we speak "
                f"{stripe_client.api_version()}. Its object is read again from Stripe at "
                "our version before it is applied (a deleted object is read from the "
                "payload, both shapes understood).")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @policy_action("billing.webhook.replay", description="Replay selected events")
    def action_replay(self, request, queryset):
        count = inbox.replay(event_ids=list(queryset.values_list("id", flat=True)),
                             actor=request.user)
        self.message_user(request, f"{count} event(s) queued for processing again.",
                          messages.SUCCESS)


# dj-stripe mirrors Stripe's objects for reconciliation; its own admin pages would duplicate
# ours (a second "Invoices", "Subscriptions") and offer actions that call Stripe outside the
# staff policy, so they are not part of the staff console. The mirror is shown read-only in
# one "Stripe mirror" group instead (billing.admin_mirror).
for _model in [model for model in admin.site._registry if model._meta.app_label == "djstripe"]:
    admin.site.unregister(_model)
admin_mirror.register(admin.site)


@admin.register(models.TaxRate)
class TaxRateAdmin(AuditedAdmin):
    """The tax rate per customer country (billing.tax applies it to orders and invoices)."""

    list_display = ["country", "name", "rate", "active", "updated_at"]
    list_filter = ["active"]
    search_fields = ["country", "name"]
    ordering = ["country"]

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate a rate instead: invoices were issued with it
