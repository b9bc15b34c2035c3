"""Money as people read it in the staff console: every amount shown in major units with its
currency, every amount typed in major units and checked against the currency, "mark paid"
recording what the bank received (part payments included), and bad input answered with a
message beside the field (or a 400), never a 500. The tests submit the forms the pages
render, to their own actions, on real PostgreSQL."""

import re
import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.factories import FinanceFactory
from billing.factories import (
    DiscountFactory,
    OrderFactory,
    OrderItemFactory,
    SubscriptionFactory,
)
from billing.models import (
    DiscountUsage,
    Invoice,
    InvoiceStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundReason,
    SubscriptionStatus,
)
from billing.services.numbers import next_number
from billing.services.payments import mark_order_paid
from billing.services.refunds import create_refund
from catalog.factories import CreditPackFactory, PlanFactory
from config.tests.page_forms import find_form, submit
from core.models import AuditLog, SystemConfig
from credits.models import CreditGrant
from support.models import ApprovalRequest, ApprovalStatus

ORDERS, INVOICES = "/admin/billing/order/", "/admin/billing/invoice/"


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    # SystemConfig values (approval limits) are cached: none may leak between tests.
    cache.clear()
    yield
    cache.clear()


# --- helpers ---------------------------------------------------------------------------------


def run_action(client, changelist: str, action: str, pks):
    """Choose ``action`` for the rows ``pks`` in the changelist's own form and press Go."""
    page = client.get(changelist)
    assert page.status_code == 200
    form = find_form(page, form_id="changelist-form")
    return submit(client, page, form, {"action": action,
                                       "_selected_action": [str(pk) for pk in pks]},
                  button="index")


def beside(html: str, field_id: str, message: str) -> bool:
    """``message`` is shown next to the field ``field_id`` (within its form row)."""
    field = re.search(rf'<(input|select|textarea)[^>]*\bid="{re.escape(field_id)}"', html)
    assert field, f"no field {field_id}"
    return any(abs(found.start() - field.start()) < 700
               for found in re.finditer(re.escape(message), html))


def manual_invoice(customer, total=71_137, currency="usd", credits=300):
    """An open manual invoice for a subscription period whose plan grants ``credits``."""
    plan = PlanFactory(billing_source="manual", credits_per_period=credits)
    now = timezone.now()
    sub = SubscriptionFactory(user=customer, plan=plan, price=plan.monthly_price,
                              billing_source="manual", current_period_start=now,
                              current_period_end=now + timedelta(days=30))
    return Invoice.objects.create(
        number=next_number("INV"), user=customer, subscription=sub, status=InvoiceStatus.OPEN,
        billing_source="manual", currency=currency, subtotal=total, total=total,
        amount_due=total, billing_reason="subscription_cycle", period_start=now,
        period_end=now + timedelta(days=30),
        lines=[{"description": "Team plan", "quantity": 1, "unit_amount": total,
                "amount": total}])


def order_with_invoice(customer, total=90_000, credits=100):
    """A manual checkout's order (a credit pack) with its invoice, unpaid."""
    pack = CreditPackFactory(credits_granted=credits)
    order = OrderFactory(user=customer, subtotal=total)
    OrderItemFactory(order=order, product=pack, unit_amount=total, credits_granted=credits)
    Invoice.objects.create(number=next_number("INV"), user=customer, order=order,
                           status=InvoiceStatus.OPEN, billing_source="manual",
                           currency=order.currency, subtotal=total, total=total,
                           amount_due=total, payment_reference=order.number)
    return order


def paid_order(customer, total, currency="usd"):
    order = OrderFactory(user=customer, subtotal=total, currency=currency)
    OrderItemFactory(order=order, unit_amount=total)
    mark_order_paid(order_id=order.pk, provider="manual", provider_id=f"t-{order.number}",
                    amount=total, currency=currency)
    order.refresh_from_db()
    return order


def mark_paid_page(client, changelist, obj):
    page = run_action(client, changelist, "action_mark_paid", [obj.pk])
    assert page.status_code == 200, page.status_code
    return page, find_form(page, has=f"paid-{obj.pk}-paid_on")


def plan_grants(customer):
    return list(CreditGrant.objects.filter(user=customer, source="PLAN")
                .values_list("amount", flat=True))


# --- 1. every amount shown in major units with its currency ----------------------------------


@pytest.mark.django_db
def test_orders_payments_refunds_show_money_in_their_currency(staff_console, customer):
    usd = paid_order(customer, 71_137)
    create_refund(order_id=usd.pk, amount=1000, reason=RefundReason.OTHER, actor=None)
    yen = OrderFactory(user=customer, subtotal=5432, currency="jpy")
    OrderItemFactory(order=yen, unit_amount=5432)
    payment, refund = Payment.objects.get(order=usd), Refund.objects.get(order=usd)

    listing = staff_console.get(ORDERS).content.decode()
    assert "$711.37" in listing and "¥5,432" in listing and "$10.00" in listing
    for url in (f"{ORDERS}{usd.pk}/change/", "/admin/billing/payment/",
                f"/admin/billing/payment/{payment.pk}/change/"):
        html = staff_console.get(url).content.decode()
        assert "$711.37" in html, url
        assert "71137" not in html and "minor units" not in html, url
    detail = staff_console.get(f"{ORDERS}{usd.pk}/change/").content.decode()
    assert "$10.00" in detail and "1000 usd" not in detail.lower()  # the refund inline
    assert "¥5,432" in staff_console.get(f"{ORDERS}{yen.pk}/change/").content.decode()
    for url in ("/admin/billing/refund/", f"/admin/billing/refund/{refund.pk}/change/"):
        html = staff_console.get(url).content.decode()
        assert "$10.00" in html and ">1000<" not in html, url
        assert "Manual (bank transfer) payment of $711.37" in html or url.endswith("/refund/")


@pytest.mark.django_db
def test_invoices_show_totals_and_lines_in_their_currency(staff_console, customer):
    invoice = manual_invoice(customer)
    yen = manual_invoice(customer, total=5432, currency="jpy")

    listing = staff_console.get(INVOICES).content.decode()
    assert "$711.37" in listing and "¥5,432" in listing and "71137" not in listing
    html = staff_console.get(f"{INVOICES}{invoice.pk}/change/").content.decode()
    assert html.count("$711.37") >= 4  # subtotal, total, amount due, the line
    assert "<th>Unit amount</th>" in html and "71137" not in html
    assert '"amount": 71137' not in html
    assert "¥5,432" in staff_console.get(f"{INVOICES}{yen.pk}/change/").content.decode()


@pytest.mark.django_db
def test_discounts_subscriptions_and_plans_show_money(staff_console, customer, support_agent,
                                                      client):
    discount = DiscountFactory(type="FIXED_AMOUNT", percent_off=None, amount_off=500,
                               currency="usd", minimum_amount=5000)
    order = OrderFactory(user=customer)
    DiscountUsage.objects.create(discount=discount, user=customer, order=order,
                                 amount_saved=500, currency="usd")
    plan = PlanFactory(billing_source="manual")
    sub = SubscriptionFactory(user=customer, plan=plan, price=plan.monthly_price,
                              billing_source="manual", credit_balance=1234,
                              status=SubscriptionStatus.PAST_DUE,
                              past_due_since=timezone.now())

    listing = staff_console.get("/admin/billing/discount/").content.decode()
    assert "$5.00" in listing and "$50.00" in listing
    detail = staff_console.get(f"/admin/billing/discount/{discount.pk}/change/").content.decode()
    assert 'value="5.00"' in detail and 'value="50.00"' in detail  # typed in major units
    assert "$5.00" in detail  # the usage inline
    for url in (f"/admin/billing/subscription/{sub.pk}/change/",
                f"/admin/billing/pastduesubscription/{sub.pk}/change/"):
        html = staff_console.get(url).content.decode()
        assert "$12.34" in html and ">1234<" not in html, url
    assert "$10.00" in staff_console.get("/admin/billing/pastduesubscription/").content.decode()
    plans = staff_console.get("/admin/billing/plansubscribers/").content.decode()
    assert "$10.00" in plans and "$100.00" in plans
    # Someone who may only look at a discount sees its amounts as money too.
    client.force_login(support_agent)
    view = client.get(f"/admin/billing/discount/{discount.pk}/change/")
    assert view.status_code == 200
    html = view.content.decode()
    assert "$5.00" in html and "$50.00" in html and ">500<" not in html and "5000" not in html
    assert 'name="amount_off"' not in html


# --- 2. amounts typed in major units, checked against the currency ---------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("typed, message", [
    ("12.345", "Use at most 2 decimals for USD."),
    ("100000000000000000000", "This amount is too large"),
    ("10.01", "larger than what is left to refund: $10.00"),
    ("0", "Enter at least $0.01."),
    ("ten", "Enter a number."),
])
def test_order_refund_form_refuses_bad_amounts_beside_the_field(staff_console, customer, typed,
                                                               message):
    order = paid_order(customer, 1000)
    page = staff_console.get(f"{ORDERS}{order.pk}/refund/")
    form = find_form(page, has="amount")

    response = submit(staff_console, page, form, {"amount": typed, "reason": "OTHER"})

    assert response.status_code == 400
    assert beside(response.content.decode(), "id_amount", message)
    order.refresh_from_db()
    assert order.refunded_amount == 0 and not Refund.objects.exists()
    assert not ApprovalRequest.objects.exists()


@pytest.mark.django_db
def test_order_refund_form_takes_major_units_of_the_orders_currency(staff_console, customer):
    usd, yen = paid_order(customer, 1000), paid_order(customer, 5000, currency="jpy")

    page = staff_console.get(f"{ORDERS}{yen.pk}/refund/")
    form = find_form(page, has="amount")
    refused = submit(staff_console, page, form, {"amount": "1.5", "reason": "OTHER"})
    assert refused.status_code == 400
    assert beside(refused.content.decode(), "id_amount", "Use at most 0 decimals for JPY.")
    assert submit(staff_console, page, form, {"amount": "1500", "reason": "OTHER"}
                  ).status_code == 302
    page = staff_console.get(f"{ORDERS}{usd.pk}/refund/")
    assert submit(staff_console, page, find_form(page, has="amount"),
                  {"amount": "2.50", "reason": "OTHER"}).status_code == 302
    assert sorted(Refund.objects.values_list("currency", "amount")) == [("jpy", 1500),
                                                                        ("usd", 250)]


@pytest.mark.django_db
def test_discount_amounts_are_typed_in_major_units(staff_console):
    page = staff_console.get("/admin/billing/discount/add/")
    form = find_form(page, has="amount_off")
    typed = {"code": "FIVE", "type": "FIXED_AMOUNT", "currency": "usd", "amount_off": "5.00",
             "minimum_amount": "50.00", "percent_off": ""}

    refused = submit(staff_console, page, form, {**typed, "amount_off": "5.001"},
                     button="_save")
    assert refused.status_code == 200
    assert beside(refused.content.decode(), "id_amount_off", "Use at most 2 decimals for USD.")
    assert submit(staff_console, page, form, typed, button="_save").status_code == 302
    yen = submit(staff_console, page, form, {**typed, "code": "YEN", "currency": "jpy",
                                             "amount_off": "500", "minimum_amount": ""},
                 button="_save")
    assert yen.status_code == 302

    from billing.models import Discount

    assert sorted(Discount.objects.values_list("code", "amount_off", "minimum_amount")) == [
        ("FIVE", 500, 5000), ("YEN", 500, 0)]


# --- 3. "mark paid" records what was received ------------------------------------------------


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

    first = submit(staff_console, page, form, {prefix + "amount": "200.00",
                                               prefix + "paid_on": yesterday.isoformat(),
                                               prefix + "reference": "BANK-1"})

    assert first.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.OPEN, 20_000, 51_137)
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.provider_id) == (20_000, "BANK-1")
    assert timezone.localtime(payment.paid_at).date() == yesterday
    assert plan_grants(customer) == []  # nothing granted until it is paid in full
    assert AuditLog.objects.filter(resource_id=str(invoice.pk),
                                   context__operation="invoice_part_paid").count() == 1

    # The same transfer submitted again (a second click) is recorded once.
    assert submit(staff_console, page, form, {prefix + "amount": "200.00",
                                              prefix + "reference": "BANK-1"}
                  ).status_code == 302
    assert Payment.objects.filter(invoice=invoice).count() == 1

    page, form = mark_paid_page(staff_console, INVOICES, invoice)
    assert form.value(prefix + "amount") == "511.37" and "$511.37 is due" in page.content.decode()
    last = submit(staff_console, page, form, {prefix + "reference": "BANK-2"})
    assert last.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.PAID, 71_137, 0)
    assert sorted(Payment.objects.filter(invoice=invoice).values_list("amount", flat=True)) == [
        20_000, 51_137]
    assert plan_grants(customer) == [300]

    again = run_action(staff_console, INVOICES, "action_mark_paid", [invoice.pk])
    assert again.status_code == 302
    assert Payment.objects.filter(invoice=invoice).count() == 2 and plan_grants(customer) == [300]


@pytest.mark.django_db
@pytest.mark.parametrize("typed, field, message", [
    ({"amount": "0"}, "amount", "Enter the amount received: more than zero."),
    ({"amount": "711.38"}, "amount", "That is more than the $711.37 due"),
    ({"amount": "1.234"}, "amount", "Use at most 2 decimals for USD."),
    ({"amount": "100000000000000000000"}, "amount", "This amount is too large"),
    ({"amount": ""}, "amount", "This field is required."),
    ({"paid_on": "tomorrow"}, "paid_on", "The date received cannot be in the future."),
    ({"amount": "100.00", "reference": ""}, "reference",
     "Enter the bank reference of this part payment."),
])
def test_mark_paid_form_refuses_bad_input_beside_the_field(staff_console, customer, typed,
                                                          field, message):
    invoice = manual_invoice(customer)
    prefix = f"paid-{invoice.pk}-"
    page, form = mark_paid_page(staff_console, INVOICES, invoice)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    values = {prefix + name: tomorrow if value == "tomorrow" else value
              for name, value in typed.items()}
    before = (AuditLog.objects.count(), ApprovalRequest.objects.count())

    response = submit(staff_console, page, form, values)

    assert response.status_code == 400
    assert beside(response.content.decode(), f"id_{prefix}{field}", message)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.OPEN, 0, 71_137)
    assert not Payment.objects.exists()
    assert (AuditLog.objects.count(), ApprovalRequest.objects.count()) == before


@pytest.mark.django_db
def test_yen_invoice_amount_is_typed_without_decimals(staff_console, customer):
    invoice = manual_invoice(customer, total=5000, currency="jpy")
    prefix = f"paid-{invoice.pk}-"
    page, form = mark_paid_page(staff_console, INVOICES, invoice)
    assert form.value(prefix + "amount") == "5000" and "¥5,000 is due" in page.content.decode()

    refused = submit(staff_console, page, form, {prefix + "amount": "1.5",
                                                 prefix + "reference": "JP-1"})
    assert refused.status_code == 400
    assert beside(refused.content.decode(), f"id_{prefix}amount",
                  "Use at most 0 decimals for JPY.")
    assert submit(staff_console, page, form, {prefix + "amount": "2000",
                                              prefix + "reference": "JP-1"}).status_code == 302
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.amount_due) == (2000, 3000)


@pytest.mark.django_db
def test_above_the_limit_the_amount_received_waits_for_a_second_person(client, staff_console,
                                                                        customer):
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
    waits = submit(client, page, form, {prefix + "paid_on": yesterday,
                                        prefix + "reference": "B-2"})
    assert waits.status_code == 302
    approval = ApprovalRequest.objects.get(status=ApprovalStatus.PENDING)
    assert (approval.action_key, approval.amount, approval.currency) == (
        "billing.invoice.mark_paid", 51_137, "usd")
    assert approval.payload == {"invoice_id": invoice.pk, "amount": 51_137,
                                "paid_on": yesterday, "reference": "B-2"}
    invoice.refresh_from_db()
    assert invoice.amount_due == 51_137

    approvals_page = staff_console.get("/admin/support/approvalrequest/")
    assert "Mark an invoice paid" in approvals_page.content.decode()
    assert "$511.37" in approvals_page.content.decode()
    approved = submit(staff_console, approvals_page,
                      find_form(approvals_page, form_id="changelist-form"),
                      {"action": "approve_selected", "_selected_action": [str(approval.pk)]},
                      button="index")
    assert approved.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.PAID, 0)
    last = Payment.objects.get(invoice=invoice, provider_id="B-2")
    assert last.amount == 51_137
    assert timezone.localtime(last.paid_at).date().isoformat() == yesterday


@pytest.mark.django_db
def test_order_with_an_invoice_is_paid_in_parts_and_fulfilled_when_paid(staff_console,
                                                                        customer):
    order = order_with_invoice(customer, total=90_000, credits=100)
    prefix = f"paid-{order.pk}-"
    page, form = mark_paid_page(staff_console, ORDERS, order)
    assert form.value(prefix + "amount") == "900.00"

    submit(staff_console, page, form, {prefix + "amount": "300.00", prefix + "reference": "T-1"})
    order.refresh_from_db()
    invoice = order.invoice
    assert (order.status, order.payment_status) == (OrderStatus.PENDING, PaymentStatus.PENDING)
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        InvoiceStatus.OPEN, 30_000, 60_000)
    assert not CreditGrant.objects.filter(user=customer).exists()  # not fulfilled yet

    page, form = mark_paid_page(staff_console, ORDERS, order)
    assert form.value(prefix + "amount") == "600.00"
    submit(staff_console, page, form, {prefix + "reference": "T-2"})
    order.refresh_from_db()
    invoice.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.COMPLETED,
                                                    PaymentStatus.SUCCEEDED)
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.PAID, 0)
    assert sorted(Payment.objects.filter(order=order, invoice=invoice)
                  .values_list("amount", flat=True)) == [30_000, 60_000]
    assert list(CreditGrant.objects.filter(user=customer).values_list("amount", flat=True)) == [
        100]


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
    from billing.services.invoices import mark_invoice_paid

    invoice = manual_invoice(customer, total=90_000, credits=300)

    def pay(i):
        try:
            barrier.wait()
            return mark_invoice_paid(invoice_id=invoice.pk, actor=admin_user, amount=30_000,
                                     reference=f"PART-{i}").status
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
        InvoiceStatus.PAID, 90_000, 0)
    assert Payment.objects.filter(invoice=invoice).count() == 3
    assert plan_grants(customer) == [300]


@pytest.mark.django_db
def test_a_bank_reference_belongs_to_one_payment(customer, admin_user):
    from billing.services.invoices import mark_invoice_paid
    from core.api import DomainError

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


# --- 4. bad input is a 400 or a form error, never a 500 --------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["status=%00", "status__exact=PENDING%00", "q=%00",
                                   "%00=1", "created_at__year=%00"])
def test_nul_in_an_admin_query_string_is_a_400(staff_console, customer, query):
    OrderFactory(user=customer)
    assert staff_console.get(f"{ORDERS}?{query}").status_code == 400
    assert staff_console.get(f"{INVOICES}?{query}").status_code == 400


@pytest.mark.django_db
def test_nul_outside_the_staff_console_is_left_to_the_page(client):
    assert client.get("/help/search/?q=%00").status_code == 200
    assert Order.objects.count() == 0
