"""Staff "mark paid" records what the bank received: part payments, the last one settling the
invoice (and an order's goods), amounts typed in major units of the currency, bad input
beside the field, large amounts waiting for a second person, concurrent payments adding up.
The tests submit the forms the pages render, to their own actions, on real PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.factories import FinanceFactory
from billing.factories import (
    OrderFactory,
    OrderItemFactory,
)
from billing.models import (
    InvoiceStatus,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from billing.services.invoices import mark_invoice_paid
from billing.tests.admin_money_helpers import (
    INVOICES,
    ORDERS,
    beside,
    fresh_config_cache,  # noqa: F401 - autouse fixture
    manual_invoice,
    mark_paid_page,
    order_with_invoice,
    plan_grants,
    run_action,
)
from config.tests.page_forms import find_form, submit
from core.api import DomainError
from core.models import AuditLog, SystemConfig
from credits.models import CreditGrant
from support.models import ApprovalRequest, ApprovalStatus

# --- 3. "mark paid" records what was received ------------------------------------------------


def _first_part_is_recorded(staff_console, page, form, invoice, customer, yesterday):
    """200.00 of the invoice received yesterday (BANK-1): a part payment, the invoice still
    open, no plan credits yet."""
    prefix = f"paid-{invoice.pk}-"
    first = submit(
        staff_console,
        page,
        form,
        {
            prefix + "amount": "200.00",
            prefix + "paid_on": yesterday.isoformat(),
            prefix + "reference": "BANK-1",
        },
    )

    assert first.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.OPEN,
        20_000,
        51_137,
    )
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.provider_id) == (20_000, "BANK-1")
    assert timezone.localtime(payment.paid_at).date() == yesterday
    assert plan_grants(customer) == []  # nothing granted until it is paid in full
    assert (
        AuditLog.objects.filter(
            resource_id=str(invoice.pk), context__operation="invoice_part_paid"
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_invoice_is_paid_in_parts_and_settled_by_the_last_one(staff_console, customer):
    invoice = manual_invoice(customer, credits=300)
    prefix = f"paid-{invoice.pk}-"
    page, form = mark_paid_page(staff_console, INVOICES, invoice)
    html = page.content.decode()
    assert "$711.37 is due" in html
    assert form.value(prefix + "amount") == "711.37"
    assert form.value(prefix + "paid_on") == timezone.localdate().isoformat()
    yesterday = timezone.localdate() - timedelta(days=1)

    _first_part_is_recorded(staff_console, page, form, invoice, customer, yesterday)

    # The same transfer submitted again (a second click) is recorded once.
    assert (
        submit(
            staff_console, page, form, {prefix + "amount": "200.00", prefix + "reference": "BANK-1"}
        ).status_code
        == 302
    )
    assert Payment.objects.filter(invoice=invoice).count() == 1

    page, form = mark_paid_page(staff_console, INVOICES, invoice)
    assert form.value(prefix + "amount") == "511.37" and "$511.37 is due" in page.content.decode()
    last = submit(staff_console, page, form, {prefix + "reference": "BANK-2"})
    assert last.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.PAID,
        71_137,
        0,
    )
    assert sorted(Payment.objects.filter(invoice=invoice).values_list("amount", flat=True)) == [
        20_000,
        51_137,
    ]
    assert plan_grants(customer) == [300]

    again = run_action(staff_console, INVOICES, "action_mark_paid", [invoice.pk])
    assert again.status_code == 302
    assert Payment.objects.filter(invoice=invoice).count() == 2 and plan_grants(customer) == [300]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed, field, message",
    [
        ({"amount": "0"}, "amount", "Enter the amount received: more than zero."),
        ({"amount": "711.38"}, "amount", "That is more than the $711.37 due"),
        ({"amount": "1.234"}, "amount", "Use at most 2 decimals for USD."),
        ({"amount": "100000000000000000000"}, "amount", "This amount is too large"),
        ({"amount": ""}, "amount", "This field is required."),
        ({"paid_on": "tomorrow"}, "paid_on", "The date received cannot be in the future."),
        (
            {"amount": "100.00", "reference": ""},
            "reference",
            "Enter the bank reference of this part payment.",
        ),
    ],
)
def test_mark_paid_form_refuses_bad_input_beside_the_field(
    staff_console, customer, typed, field, message
):
    invoice = manual_invoice(customer)
    prefix = f"paid-{invoice.pk}-"
    page, form = mark_paid_page(staff_console, INVOICES, invoice)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    values = {
        prefix + name: tomorrow if value == "tomorrow" else value for name, value in typed.items()
    }
    before = (AuditLog.objects.count(), ApprovalRequest.objects.count())

    response = submit(staff_console, page, form, values)

    assert response.status_code == 400
    assert beside(response.content.decode(), f"id_{prefix}{field}", message)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.OPEN,
        0,
        71_137,
    )
    assert not Payment.objects.exists()
    assert (AuditLog.objects.count(), ApprovalRequest.objects.count()) == before


@pytest.mark.django_db
def test_yen_invoice_amount_is_typed_without_decimals(staff_console, customer):
    invoice = manual_invoice(customer, total=5000, currency="jpy")
    prefix = f"paid-{invoice.pk}-"
    page, form = mark_paid_page(staff_console, INVOICES, invoice)
    assert form.value(prefix + "amount") == "5000" and "¥5,000 is due" in page.content.decode()

    refused = submit(
        staff_console, page, form, {prefix + "amount": "1.5", prefix + "reference": "JP-1"}
    )
    assert refused.status_code == 400
    assert beside(refused.content.decode(), f"id_{prefix}amount", "Use at most 0 decimals for JPY.")
    assert (
        submit(
            staff_console, page, form, {prefix + "amount": "2000", prefix + "reference": "JP-1"}
        ).status_code
        == 302
    )
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.amount_due) == (2000, 3000)


@pytest.mark.django_db
def test_above_the_limit_the_amount_received_waits_for_a_second_person(
    client, staff_console, customer
):
    SystemConfig.objects.create(key="finance_approval_threshold", value=50_000)  # $500.00
    finance = FinanceFactory()
    client.force_login(finance)
    invoice = manual_invoice(customer)
    prefix = f"paid-{invoice.pk}-"

    page, form = mark_paid_page(client, INVOICES, invoice)
    done = submit(client, page, form, {prefix + "amount": "200.00", prefix + "reference": "B-1"})
    assert done.status_code == 302  # within the limit: recorded at once
    page, form = mark_paid_page(client, INVOICES, invoice)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    waits = submit(client, page, form, {prefix + "paid_on": yesterday, prefix + "reference": "B-2"})
    assert waits.status_code == 302
    approval = ApprovalRequest.objects.get(status=ApprovalStatus.PENDING)
    assert (approval.action_key, approval.amount, approval.currency) == (
        "billing.invoice.mark_paid",
        51_137,
        "usd",
    )
    assert approval.payload == {
        "invoice_id": invoice.pk,
        "amount": 51_137,
        "paid_on": yesterday,
        "reference": "B-2",
    }
    invoice.refresh_from_db()
    assert invoice.amount_due == 51_137

    approvals_page = staff_console.get("/admin/support/approvalrequest/")
    assert "Mark an invoice paid" in approvals_page.content.decode()
    assert "$511.37" in approvals_page.content.decode()
    approved = submit(
        staff_console,
        approvals_page,
        find_form(approvals_page, form_id="changelist-form"),
        {"action": "approve_selected", "_selected_action": [str(approval.pk)]},
        button="index",
    )
    assert approved.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.PAID, 0)
    last = Payment.objects.get(invoice=invoice, provider_id="B-2")
    assert last.amount == 51_137
    assert timezone.localtime(last.paid_at).date().isoformat() == yesterday


@pytest.mark.django_db
def test_order_with_an_invoice_is_paid_in_parts_and_fulfilled_when_paid(staff_console, customer):
    order = order_with_invoice(customer, total=90_000, credits=100)
    prefix = f"paid-{order.pk}-"
    page, form = mark_paid_page(staff_console, ORDERS, order)
    assert form.value(prefix + "amount") == "900.00"

    submit(staff_console, page, form, {prefix + "amount": "300.00", prefix + "reference": "T-1"})
    order.refresh_from_db()
    invoice = order.invoice
    assert (order.status, order.payment_status) == (OrderStatus.PENDING, PaymentStatus.PENDING)
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.OPEN,
        30_000,
        60_000,
    )
    assert not CreditGrant.objects.filter(user=customer).exists()  # not fulfilled yet

    page, form = mark_paid_page(staff_console, ORDERS, order)
    assert form.value(prefix + "amount") == "600.00"
    submit(staff_console, page, form, {prefix + "reference": "T-2"})
    order.refresh_from_db()
    invoice.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.COMPLETED, PaymentStatus.SUCCEEDED)
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.PAID, 0)
    assert sorted(
        Payment.objects.filter(order=order, invoice=invoice).values_list("amount", flat=True)
    ) == [30_000, 60_000]
    assert list(CreditGrant.objects.filter(user=customer).values_list("amount", flat=True)) == [100]


@pytest.mark.django_db
def test_order_without_an_invoice_is_marked_paid_in_full(staff_console, customer):
    order = OrderFactory(user=customer, subtotal=1900)
    OrderItemFactory(order=order, unit_amount=1900)
    prefix = f"paid-{order.pk}-"
    page, form = mark_paid_page(staff_console, ORDERS, order)
    assert prefix + "amount" not in form.names() and "due $19.00" in page.content.decode()

    done = submit(staff_console, page, form, {prefix + "reference": "WIRE-9"})

    assert done.status_code == 302
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.SUCCEEDED
    assert Payment.objects.get(order=order).provider_id == "WIRE-9"


@pytest.mark.django_db(transaction=True)
def test_part_payments_at_once_add_up_and_settle_the_invoice_once(customer, admin_user):

    invoice = manual_invoice(customer, total=90_000, credits=300)

    def pay(i):
        try:
            barrier.wait()
            return mark_invoice_paid(
                invoice_id=invoice.pk, actor=admin_user, amount=30_000, reference=f"PART-{i}"
            ).status
        finally:
            connection.close()

    barrier = threading.Barrier(3)
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(pay(i))) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    invoice.refresh_from_db()
    assert sorted(results) == ["OPEN", "OPEN", "PAID"]
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.PAID,
        90_000,
        0,
    )
    assert Payment.objects.filter(invoice=invoice).count() == 3
    assert plan_grants(customer) == [300]


@pytest.mark.django_db
def test_a_bank_reference_belongs_to_one_payment(customer, admin_user):

    first, second = manual_invoice(customer), manual_invoice(customer)
    mark_invoice_paid(invoice_id=first.pk, actor=admin_user, amount=100, reference="SAME")
    with pytest.raises(DomainError) as refused:
        mark_invoice_paid(invoice_id=second.pk, actor=admin_user, amount=100, reference="SAME")
    assert refused.value.code == "payment_reference_used"
    with pytest.raises(DomainError) as refused:
        mark_invoice_paid(invoice_id=second.pk, actor=admin_user, amount=100)
    assert refused.value.code == "payment_reference_required"
    with pytest.raises(DomainError) as refused:
        mark_invoice_paid(invoice_id=second.pk, actor=admin_user, amount=71_138)
    assert refused.value.code == "payment_amount_invalid"
    assert not Payment.objects.filter(invoice=second).exists()
