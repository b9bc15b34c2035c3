"""Staff in the admin console: sign in, take a payment, refund it, adjust credits, analytics."""

import re

import pytest
from playwright.sync_api import expect

from accounts.factories import TEST_PASSWORD, AdminFactory, UserFactory
from billing.factories import OrderFactory, OrderItemFactory
from billing.models import OrderStatus, Refund
from credits.selectors import balance_of
from credits.services import grant_credits

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _run_action(page, changelist: str, pk: int, action: str, confirm: str | None = None):
    page.goto(changelist)
    page.check(f'input[name="_selected_action"][value="{pk}"]')
    page.select_option('select[name="action"]', action)
    page.get_by_role("button", name="Run").click()
    page.wait_for_load_state()
    if confirm:  # actions that change money or access ask first
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"\?$"))
        page.get_by_role("button", name=confirm).click()
        # The confirm page posts to the changelist's own URL: wait for its outcome message.
        expect(page.locator(".messagelist")).to_be_visible()


def test_staff_signs_in_refunds_an_order_adjusts_credits_and_reads_analytics(page):
    shots = page.shots
    staff = AdminFactory(email="ops@example.com")
    customer = UserFactory(email="buyer@example.com")
    grant_credits(user=customer, amount=10, source="PROMO")
    order = OrderFactory(user=customer, subtotal=4000)
    OrderItemFactory(order=order, unit_amount=4000)

    page.goto("/admin/login/")
    shots("admin-login")
    page.fill('input[name="username"]', staff.email)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    expect(page.locator("#site-name")).to_be_visible()
    shots("admin-index")

    # The bank transfer arrived: mark the order paid, then refund part of it.
    _run_action(
        page, "/admin/billing/order/", order.pk, "action_mark_paid", confirm="Yes, mark paid"
    )
    shots("order-paid")
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    _run_action(page, "/admin/billing/order/", order.pk, "action_refund")
    expect(page.get_by_role("button", name="Confirm refund")).to_be_visible()
    shots("refund-form")
    page.fill('input[name="amount"]', "15.00")
    page.select_option('select[name="reason"]', "REQUESTED_BY_CUSTOMER")
    page.get_by_role("button", name="Confirm refund").click()
    page.wait_for_load_state()
    expect(page.locator(".messagelist .success").first).to_be_visible()
    shots("refunded")
    refund = Refund.objects.get(order=order)
    assert refund.amount == 1500
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (1500, OrderStatus.PARTIALLY_REFUNDED)

    # Adjust the customer's credits with a reason.
    before = balance_of(user=customer)
    balance_pk = customer.credit_balance.pk
    _run_action(page, "/admin/credits/creditbalance/", balance_pk, "adjust_credits")
    shots("adjust-form")
    page.fill('input[name="amount"]', "40")
    page.fill('textarea[name="reason"]', "Goodwill after the refund.")
    page.get_by_role("button", name="Confirm adjustment").click()
    page.wait_for_load_state()
    shots("adjusted")
    assert balance_of(user=customer) == before + 40

    # The analytics dashboard.
    page.goto("/admin/analytics/")
    expect(page.get_by_role("heading", name="Analytics dashboard")).to_be_visible()
    shots("analytics")
