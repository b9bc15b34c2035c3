"""Money as people read it in the staff console: every amount shown in major units with its
currency, every amount typed in major units and checked against the currency, "mark paid"
recording what the bank received (test_admin_mark_paid), and bad input answered with a
message beside the field (or a 400), never a 500. The tests submit the forms the pages
render, to their own actions, on real PostgreSQL."""

import pytest
from django.utils import timezone

from billing.factories import (
    DiscountFactory,
    OrderFactory,
    OrderItemFactory,
    SubscriptionFactory,
)
from billing.models import (
    Discount,
    DiscountUsage,
    Order,
    Payment,
    Refund,
    RefundReason,
    SubscriptionStatus,
)
from billing.services.refunds import create_refund
from billing.tests.admin_money_helpers import (
    INVOICES,
    ORDERS,
    beside,
    fresh_config_cache,  # noqa: F401 - autouse fixture
    manual_invoice,
    paid_order,
)
from catalog.factories import PlanFactory
from config.tests.page_forms import find_form, submit
from support.models import ApprovalRequest

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
    for url in (
        f"{ORDERS}{usd.pk}/change/",
        "/admin/billing/payment/",
        f"/admin/billing/payment/{payment.pk}/change/",
    ):
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
def test_discounts_subscriptions_and_plans_show_money(
    staff_console, customer, support_agent, client
):
    discount = DiscountFactory(
        type="FIXED_AMOUNT", percent_off=None, amount_off=500, currency="usd", minimum_amount=5000
    )
    order = OrderFactory(user=customer)
    DiscountUsage.objects.create(
        discount=discount, user=customer, order=order, amount_saved=500, currency="usd"
    )
    plan = PlanFactory(billing_source="manual")
    sub = SubscriptionFactory(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        billing_source="manual",
        credit_balance=1234,
        status=SubscriptionStatus.PAST_DUE,
        past_due_since=timezone.now(),
    )

    listing = staff_console.get("/admin/billing/discount/").content.decode()
    assert "$5.00" in listing and "$50.00" in listing
    detail = staff_console.get(f"/admin/billing/discount/{discount.pk}/change/").content.decode()
    assert 'value="5.00"' in detail and 'value="50.00"' in detail  # typed in major units
    assert "$5.00" in detail  # the usage inline
    for url in (
        f"/admin/billing/subscription/{sub.pk}/change/",
        f"/admin/billing/pastduesubscription/{sub.pk}/change/",
    ):
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
@pytest.mark.parametrize(
    "typed, message",
    [
        ("12.345", "Use at most 2 decimals for USD."),
        ("100000000000000000000", "This amount is too large"),
        ("10.01", "larger than what is left to refund: $10.00"),
        ("0", "Enter at least $0.01."),
        ("ten", "Enter a number."),
    ],
)
def test_order_refund_form_refuses_bad_amounts_beside_the_field(
    staff_console, customer, typed, message
):
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
    assert (
        submit(staff_console, page, form, {"amount": "1500", "reason": "OTHER"}).status_code == 302
    )
    page = staff_console.get(f"{ORDERS}{usd.pk}/refund/")
    assert (
        submit(
            staff_console,
            page,
            find_form(page, has="amount"),
            {"amount": "2.50", "reason": "OTHER"},
        ).status_code
        == 302
    )
    assert sorted(Refund.objects.values_list("currency", "amount")) == [("jpy", 1500), ("usd", 250)]


@pytest.mark.django_db
def test_discount_amounts_are_typed_in_major_units(staff_console):
    page = staff_console.get("/admin/billing/discount/add/")
    form = find_form(page, has="amount_off")
    typed = {
        "code": "FIVE",
        "type": "FIXED_AMOUNT",
        "currency": "usd",
        "amount_off": "5.00",
        "minimum_amount": "50.00",
        "percent_off": "",
    }

    refused = submit(staff_console, page, form, {**typed, "amount_off": "5.001"}, button="_save")
    assert refused.status_code == 200
    assert beside(refused.content.decode(), "id_amount_off", "Use at most 2 decimals for USD.")
    assert submit(staff_console, page, form, typed, button="_save").status_code == 302
    yen = submit(
        staff_console,
        page,
        form,
        {**typed, "code": "YEN", "currency": "jpy", "amount_off": "500", "minimum_amount": ""},
        button="_save",
    )
    assert yen.status_code == 302

    assert sorted(Discount.objects.values_list("code", "amount_off", "minimum_amount")) == [
        ("FIVE", 500, 5000),
        ("YEN", 500, 0),
    ]


# --- 4. bad input is a 400 or a form error, never a 500 --------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["status=%00", "status__exact=PENDING%00", "q=%00", "%00=1", "created_at__year=%00"]
)
def test_nul_in_an_admin_query_string_is_a_400(staff_console, customer, query):
    OrderFactory(user=customer)
    assert staff_console.get(f"{ORDERS}?{query}").status_code == 400
    assert staff_console.get(f"{INVOICES}?{query}").status_code == 400


@pytest.mark.django_db
def test_nul_outside_the_staff_console_is_left_to_the_page(client):
    assert client.get("/help/search/?q=%00").status_code == 200
    assert Order.objects.count() == 0
