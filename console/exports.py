"""Accounting exports: invoices, payments, refunds, credit notes and the credit ledger for a
date range, as
CSV or Excel, from the staff console (finance and admin: the policy's ``console.export``).

Each export is a django-import-export ``ModelResource`` (export only: the console imports
nothing), whose columns an accountant reads without the product's code: amounts in major
units with their currency in a column of its own, customers by e-mail, dates in ISO 8601.

The range is a ``created_at`` range, found through that column's index, in time order. CSV
streams: rows are read 2,000 at a time through a server-side cursor and written as
they come (``accounts.data_export.rows``), so a million ledger rows take the memory of a few
thousand. An Excel workbook is built in memory, so it is bounded: a range of more than
``EXCEL_ROWS_MAX`` rows is refused next to the range, with the count, and CSV suggested.
"""

import csv
import datetime as dt
from dataclasses import dataclass

from django import forms
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from import_export import fields, resources

from accounts.data_export import rows
from billing.models import CreditNote, Invoice, Payment, Refund
from core import audit
from core.models import AuditAction
from core.money import to_major_units
from credits.models import CreditTransaction

EXCEL_ROWS_MAX = 50_000  # rows an Excel export holds at most (built in memory)
CSV_CHUNK_ROWS = 2_000


def _major(amount, currency):
    return "" if amount is None else to_major_units(amount, currency)


def _iso(value):
    return value.isoformat() if value else ""


class PlainValuesResource(resources.ModelResource):
    """Numbers and text as they are (a spreadsheet reads 1500 as a number), without the
    per-cell localisation of import-export's widgets, which costs most of an export's time."""

    def export_field(self, field, instance, **kwargs):
        name = self.get_field_name(field)
        if not callable(getattr(self, f"dehydrate_{name}", None)) and field.attribute:
            value = field.get_value(instance)
            if value is None:
                return ""
            if isinstance(value, int | str):
                return value
        return super().export_field(field, instance, **kwargs)


class MoneyResource(PlainValuesResource):
    """Money columns (``money_fields``) in major units of the row's ``currency``."""

    money_fields: tuple[str, ...] = ()

    def export_field(self, field, instance, **kwargs):
        name = self.get_field_name(field)
        if name in self.money_fields:
            return _major(getattr(instance, field.attribute or name), instance.currency)
        return super().export_field(field, instance, **kwargs)


class InvoiceResource(MoneyResource):
    customer = fields.Field(attribute="user__email", column_name="customer")
    issued = fields.Field(column_name="issued")
    money_fields = ("subtotal", "discount_amount", "tax", "total", "amount_paid", "amount_due")

    class Meta:
        model = Invoice
        fields = (
            "number",
            "issued",
            "customer",
            "status",
            "billing_source",
            "currency",
            "subtotal",
            "discount_amount",
            "tax",
            "total",
            "amount_paid",
            "amount_due",
            "due_date",
            "paid_at",
            "payment_reference",
            "billing_reason",
        )
        export_order = fields

    def dehydrate_issued(self, invoice):
        return _iso(invoice.created_at)

    def dehydrate_paid_at(self, invoice):
        return _iso(invoice.paid_at)

    def dehydrate_due_date(self, invoice):
        return _iso(invoice.due_date)


class PaymentResource(MoneyResource):
    customer = fields.Field(attribute="user__email", column_name="customer")
    order = fields.Field(attribute="order__number", column_name="order")
    invoice = fields.Field(attribute="invoice__number", column_name="invoice")
    recorded = fields.Field(column_name="recorded")
    money_fields = ("amount",)

    class Meta:
        model = Payment
        fields = (
            "id",
            "recorded",
            "paid_at",
            "customer",
            "order",
            "invoice",
            "provider",
            "provider_id",
            "status",
            "currency",
            "amount",
            "method_type",
            "method_brand",
            "method_last4",
        )
        export_order = fields

    def dehydrate_recorded(self, payment):
        return _iso(payment.created_at)

    def dehydrate_paid_at(self, payment):
        return _iso(payment.paid_at)


class RefundResource(MoneyResource):
    customer = fields.Field(column_name="customer")
    order = fields.Field(attribute="order__number", column_name="order")
    invoice = fields.Field(attribute="invoice__number", column_name="invoice")
    requested_by = fields.Field(attribute="requested_by__email", column_name="requested by")
    requested = fields.Field(column_name="requested")
    money_fields = ("amount",)

    class Meta:
        model = Refund
        fields = (
            "id",
            "requested",
            "processed_at",
            "customer",
            "order",
            "invoice",
            "provider",
            "status",
            "reason",
            "currency",
            "amount",
            "stripe_refund_id",
            "requested_by",
            "notes",
        )
        export_order = fields

    def dehydrate_customer(self, refund):
        # A one-time order's refund, or a subscription invoice's.
        document = refund.order or refund.invoice
        return document.user.email if document else ""

    def dehydrate_requested(self, refund):
        return _iso(refund.created_at)

    def dehydrate_processed_at(self, refund):
        return _iso(refund.processed_at)


class CreditNoteResource(MoneyResource):
    customer = fields.Field(attribute="user__email", column_name="customer")
    invoice = fields.Field(attribute="invoice__number", column_name="invoice")
    issued = fields.Field(column_name="issued")
    money_fields = ("amount",)

    class Meta:
        model = CreditNote
        fields = (
            "id",
            "number",
            "issued",
            "customer",
            "invoice",
            "reason",
            "currency",
            "amount",
            "credits_clawed_back",
            "credits_unrecovered",
        )
        export_order = fields

    def dehydrate_issued(self, note):
        return _iso(note.created_at)


class LedgerResource(PlainValuesResource):
    customer = fields.Field(attribute="user__email", column_name="customer")
    actor = fields.Field(attribute="actor__email", column_name="staff member")
    at = fields.Field(column_name="at")

    class Meta:
        model = CreditTransaction
        fields = (
            "id",
            "at",
            "customer",
            "kind",
            "operation",
            "quantity",
            "amount",
            "balance_after",
            "actor",
        )
        export_order = fields

    def dehydrate_at(self, row):
        return _iso(row.created_at)


@dataclass(frozen=True)
class Dataset:
    label: str
    resource: type
    queryset: object  # callable: () -> QuerySet, ordered along the created_at index
    column_doc: str


DATASETS = {
    "invoices": Dataset(
        "Invoices",
        InvoiceResource,
        lambda: Invoice.objects.select_related("user"),
        "one row per invoice issued in the range",
    ),
    "payments": Dataset(
        "Payments",
        PaymentResource,
        lambda: Payment.objects.select_related("user", "order", "invoice").only(
            "id",
            "created_at",
            "paid_at",
            "provider",
            "provider_id",
            "status",
            "currency",
            "amount",
            "method_type",
            "method_brand",
            "method_last4",
            "user__email",
            "order__number",
            "invoice__number",
        ),
        "one row per payment recorded in the range",
    ),
    "refunds": Dataset(
        "Refunds",
        RefundResource,
        lambda: Refund.objects.select_related("order__user", "invoice__user", "requested_by"),
        "one row per refund requested in the range",
    ),
    "credit_notes": Dataset(
        "Credit notes",
        CreditNoteResource,
        lambda: CreditNote.objects.select_related("user", "invoice"),
        "one row per credit note issued in the range",
    ),
    "ledger": Dataset(
        "Credit ledger",
        LedgerResource,
        lambda: CreditTransaction.objects.select_related("user", "actor").only(
            "id",
            "created_at",
            "kind",
            "operation",
            "quantity",
            "amount",
            "balance_after",
            "user__email",
            "actor__email",
        ),
        "one row per credit movement in the range",
    ),
}
FORMATS = {"csv": "CSV (streams any size)", "xlsx": f"Excel (up to {EXCEL_ROWS_MAX:,} rows)"}


class ExportForm(forms.Form):
    dataset = forms.ChoiceField(
        label="What", choices=[(key, d.label) for key, d in DATASETS.items()]
    )
    start = forms.DateField(
        label="From (first day)", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To (last day, included)", widget=forms.DateInput(attrs={"type": "date"})
    )
    format = forms.ChoiceField(label="Format", choices=list(FORMATS.items()), initial="csv")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "The last day comes before the first day.")
        if self.errors or cleaned.get("format") != "xlsx":
            return cleaned
        found = self.queryset()[: EXCEL_ROWS_MAX + 1].count()
        if found > EXCEL_ROWS_MAX:
            self.add_error(
                "end",
                f"More than {EXCEL_ROWS_MAX:,} rows in this range: too many "
                "for an Excel file. Choose CSV, or a shorter range.",
            )
        return cleaned

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The range's start and end instants, days counted in the staff member's zone."""
        zone = timezone.get_current_timezone()
        start = dt.datetime.combine(self.cleaned_data["start"], dt.time(), zone)
        end = dt.datetime.combine(self.cleaned_data["end"] + dt.timedelta(days=1), dt.time(), zone)
        return start, end

    def queryset(self):
        start, end = self.bounds()
        dataset = DATASETS[self.cleaned_data["dataset"]]
        return (
            dataset.queryset()
            .filter(created_at__gte=start, created_at__lt=end)
            .order_by("created_at", "id")
        )


class _Echo:
    def write(self, value):
        return value


def csv_lines(resource, queryset):
    """The CSV text of ``queryset``, a line at a time, read in chunks as it is sent."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a byte-order mark: spreadsheet programs then read the text as UTF-8
    yield writer.writerow(resource.get_export_headers())
    columns = resource.get_export_fields()  # once, not per row
    for row in rows(queryset, chunk_size=CSV_CHUNK_ROWS):
        yield writer.writerow([resource.export_field(column, row) for column in columns])


def excel_bytes(resource, queryset) -> bytes:
    dataset = resource.export(queryset)
    return dataset.export("xlsx")


def download(request, form) -> HttpResponse | StreamingHttpResponse:
    key, kind = form.cleaned_data["dataset"], form.cleaned_data["format"]
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    resource = DATASETS[key].resource()
    queryset = form.queryset()
    filename = f"{key}-{start.isoformat()}-to-{end.isoformat()}.{kind}"
    with transaction.atomic():
        audit.record(
            actor=request.user,
            action=AuditAction.EXPORT,
            resource_type=f"console.export.{key}",
            new={"start": start.isoformat(), "end": end.isoformat(), "format": kind},
        )
    response: HttpResponse | StreamingHttpResponse
    if kind == "csv":
        response = StreamingHttpResponse(
            csv_lines(resource, queryset), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(
            excel_bytes(resource, queryset),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_view(model_admin):
    """The export page: the form (GET), and the file once the form is valid."""

    def view(request):
        # A link may preselect the dataset (?dataset=ledger); the form is sent with its range.
        form = ExportForm(
            request.GET if "start" in request.GET else None, initial=_initial(request)
        )
        if form.is_bound and form.is_valid():
            return download(request, form)
        return TemplateResponse(
            request,
            "console/exports.html",
            {
                **model_admin.admin_site.each_context(request),
                "title": "Accounting exports",
                "form": form,
                "datasets": DATASETS,
                "excel_max": f"{EXCEL_ROWS_MAX:,}",
                "opts": model_admin.model._meta,
            },
        )

    return view


def _initial(request) -> dict:
    today = timezone.localdate()
    first = today.replace(day=1)
    return {
        "dataset": request.GET.get("dataset", "invoices"),
        "start": first,
        "end": today,
        "format": "csv",
    }
