"""Accounting exports from the console, per role: the rows of the range, in readable
columns, as CSV (streamed) or Excel (bounded), and refused to support."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.factories import AdminFactory, FinanceFactory, StaffFactory
from accounts.models import Role
from analytics.factories import history_inputs
from analytics.seed_history import seed_history
from billing.models import CreditNote, Invoice, Payment, Refund
from console import exports
from console.tests.world import customer_with_history, form_with_button
from core.models import AuditLog
from credits.models import CreditTransaction

pytestmark = pytest.mark.django_db
FACTORY = {Role.ADMIN: AdminFactory, Role.FINANCE: FinanceFactory, Role.SUPPORT: StaffFactory}


def _client(role):
    client = Client()
    client.force_login(FACTORY[role]())
    return client


def _dated(model, pk, when):
    model.objects.filter(pk=pk).update(created_at=when)


def _rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _submit(client, **fields):
    """The export form as the page renders it, filled in and sent."""
    page = client.get(reverse("admin:console_export"))
    form = form_with_button(page.content.decode(), "Download")
    assert form is not None and form["method"] == "get"
    return client.get(form["action"], fields)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.FINANCE])
def test_invoices_for_a_range_as_csv(role):
    inside = customer_with_history("in@example.com").invoice
    outside = customer_with_history("out@example.com").invoice
    _dated(Invoice, inside.pk, datetime(2026, 3, 15, 12, tzinfo=UTC))
    _dated(Invoice, outside.pk, datetime(2026, 4, 2, 12, tzinfo=UTC))
    client = _client(role)
    response = _submit(
        client, dataset="invoices", start="2026-03-01", end="2026-03-31", format="csv"
    )
    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="invoices-2026-03-01-to-2026-03-31.csv"'
    )
    rows = _rows(response)
    assert [row["number"] for row in rows] == [inside.number]
    row = rows[0]
    assert (row["customer"], row["status"], row["currency"], row["total"], row["amount_due"]) == (
        "in@example.com",
        "OPEN",
        "usd",
        "79.00",
        "79.00",
    )
    assert row["issued"].startswith("2026-03-15T12:00:00")
    assert AuditLog.objects.filter(
        action="EXPORT", resource_type="console.export.invoices"
    ).exists()


def test_payments_refunds_and_ledger_as_csv():
    world = customer_with_history("pay@example.com")
    client = _client(Role.FINANCE)
    today = world.order.created_at.date().isoformat()
    payments = _rows(_submit(client, dataset="payments", start=today, end=today, format="csv"))
    assert [(r["customer"], r["order"], r["amount"], r["currency"]) for r in payments] == [
        ("pay@example.com", world.order.number, "40.00", "usd")
    ]
    payment = Payment.objects.get(order=world.order)
    Refund.objects.create(
        order=world.order,
        payment=payment,
        amount=1500,
        currency="usd",
        reason="REQUESTED_BY_CUSTOMER",
        provider="manual",
        idempotency_key="export-test",
        status="SUCCEEDED",
    )
    refunds = _rows(_submit(client, dataset="refunds", start=today, end=today, format="csv"))
    assert [(r["customer"], r["order"], r["amount"]) for r in refunds] == [
        ("pay@example.com", world.order.number, "15.00")
    ]
    ledger = _rows(_submit(client, dataset="ledger", start=today, end=today, format="csv"))
    assert [(r["customer"], r["kind"], r["amount"], r["balance_after"]) for r in ledger] == [
        ("pay@example.com", "GRANT", "500", "500")
    ]


def test_excel_holds_the_same_rows():
    world = customer_with_history("xl@example.com")
    client = _client(Role.ADMIN)
    day = world.invoice.created_at.date().isoformat()
    response = _submit(client, dataset="invoices", start=day, end=day, format="xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert values[0][:4] == ("number", "issued", "customer", "status")
    # The customer's invoices of the day (its open one and its paid order's), as the CSV has.
    numbers = sorted(Invoice.objects.filter(user=world.user).values_list("number", flat=True))
    assert sorted(row[0] for row in values[1:]) == numbers and world.invoice.number in numbers
    assert {row[2] for row in values[1:]} == {"xl@example.com"}


def test_excel_is_bounded_and_says_so_next_to_the_range(monkeypatch):
    world = customer_with_history("big@example.com")
    monkeypatch.setattr(exports, "EXCEL_ROWS_MAX", 0)
    client = _client(Role.FINANCE)
    day = world.invoice.created_at.date().isoformat()
    response = _submit(client, dataset="invoices", start=day, end=day, format="xlsx")
    assert response.status_code == 200
    html = response.content.decode()
    assert "too many for an Excel file. Choose CSV, or a shorter range." in html
    assert not AuditLog.objects.filter(action="EXPORT").exists()


def test_a_range_ending_before_it_starts_is_refused_next_to_the_field():
    client = _client(Role.FINANCE)
    response = _submit(client, dataset="ledger", start="2026-03-10", end="2026-03-01", format="csv")
    assert response.status_code == 200
    assert "The last day comes before the first day." in response.content.decode()


def test_support_may_not_export():
    customer_with_history()
    client = _client(Role.SUPPORT)
    response = client.get(
        reverse("admin:console_export"),
        {"dataset": "invoices", "start": "2026-01-01", "end": "2030-01-01", "format": "csv"},
    )
    assert response.status_code == 403
    assert not AuditLog.objects.filter(action="EXPORT").exists()


@pytest.mark.django_db(transaction=True)
def test_the_ledger_streams_through_the_date_index():
    """A long history (written as seed_history writes it, keeping the books) comes out row
    by row as it is read, in time order, only the range's rows, found through the index."""

    history_inputs(customers=1)
    seed_history(rows=5_000, customers=1, days=60)
    today = timezone.localdate()
    start = today - timedelta(days=2)  # a few days of two months: a small part of the table
    in_range = CreditTransaction.objects.filter(
        created_at__gte=datetime.combine(start, datetime.min.time(), UTC)
    ).count()
    assert 0 < in_range < CreditTransaction.objects.count()
    client = _client(Role.FINANCE)
    response = client.get(
        reverse("admin:console_export"),
        {
            "dataset": "ledger",
            "start": start.isoformat(),
            "end": today.isoformat(),
            "format": "csv",
        },
    )
    assert response.streaming
    stream = iter(response.streaming_content)
    head = [next(stream) for _ in range(3)]  # a byte-order mark, the header, a first row
    assert head[1].startswith(b"id,at,customer,kind")
    lines = (b"".join(head[1:]) + b"".join(stream)).decode().splitlines()
    assert len(lines) == 1 + in_range
    stamps = [line.split(",")[1] for line in lines[1:]]
    assert stamps == sorted(stamps)
    form = exports.ExportForm(
        {"dataset": "ledger", "start": start.isoformat(), "end": today.isoformat(), "format": "csv"}
    )
    assert form.is_valid()
    plan = form.queryset().explain()
    # The range is found through an index on created_at, never by reading the whole ledger.
    assert "Seq Scan on credits_credittransaction" not in plan
    assert re.search(
        r"Index (Only )?Scan (Backward )?(using|on) credits_txn_\w*time_idx", plan
    ) or re.search(r"Bitmap Index Scan on credits_txn_\w*time_idx", plan), plan


@pytest.mark.parametrize(
    "url_name, dataset",
    [
        ("admin:billing_invoice_changelist", "invoices"),
        ("admin:billing_payment_changelist", "payments"),
        ("admin:billing_refund_changelist", "refunds"),
        ("admin:credits_credittransaction_changelist", "ledger"),
    ],
)
def test_each_list_links_its_export_for_the_roles_that_may_export(url_name, dataset):
    link = f"{reverse('admin:console_export')}?dataset={dataset}"
    for role, shown in ((Role.FINANCE, True), (Role.ADMIN, True), (Role.SUPPORT, False)):
        html = _client(role).get(reverse(url_name)).content.decode()
        assert (f'href="{link}"' in html) is shown, role
    page = _client(Role.FINANCE).get(link).content.decode()
    assert f'<option value="{dataset}" selected>' in page


def test_credit_notes_and_invoice_refunds_as_csv():
    world = customer_with_history("note@example.com")
    invoice = world.invoice
    Invoice.objects.filter(pk=invoice.pk).update(status="PAID", amount_paid=7900, amount_due=0)
    refund = Refund.objects.create(
        invoice=invoice,
        amount=2000,
        currency="usd",
        reason="REQUESTED_BY_CUSTOMER",
        provider="manual",
        idempotency_key="export-note",
        status="SUCCEEDED",
    )
    note = CreditNote.objects.create(
        number="CN-2026-000777",
        user=world.user,
        invoice=invoice,
        refund=refund,
        amount=2000,
        currency="usd",
        reason="REQUESTED_BY_CUSTOMER",
        credits_clawed_back=120,
        credits_unrecovered=30,
    )
    client = _client(Role.FINANCE)
    today = timezone.localdate().isoformat()

    notes = _rows(_submit(client, dataset="credit_notes", start=today, end=today, format="csv"))
    assert [
        (
            r["number"],
            r["customer"],
            r["invoice"],
            r["amount"],
            r["currency"],
            r["credits_clawed_back"],
            r["credits_unrecovered"],
        )
        for r in notes
    ] == [(note.number, "note@example.com", invoice.number, "20.00", "usd", "120", "30")]
    refunds = _rows(_submit(client, dataset="refunds", start=today, end=today, format="csv"))
    assert [(r["customer"], r["order"], r["invoice"], r["amount"]) for r in refunds] == [
        ("note@example.com", "", invoice.number, "20.00")
    ]
