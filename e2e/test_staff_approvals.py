"""Two staff members and a customer, each in their own browser: a refund above the support
agent's limit waits for a finance user's approval, runs once, and the customer sees it."""

import re

import pytest
from playwright.sync_api import expect

from accounts.factories import TEST_PASSWORD, FinanceFactory, StaffFactory, UserFactory
from billing.models import OrderStatus, Refund
from billing.services import cart, checkout, payments
from catalog.factories import PriceFactory, ProductFactory
from support.models import ApprovalRequest, ApprovalStatus
from support.related import clean_related
from support.services import open_ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

APPROVALS = "/admin/support/approvalrequest/"
APPROVE = "Approve (and run) selected requests"


def _paid_manual_order(customer, finance, amount: int):
    """A bank-transfer order the customer placed and finance marked paid, as in real life."""
    product = ProductFactory(name="Annual consulting retainer", slug="annual-retainer")
    PriceFactory(product=product, unit_amount=amount)
    cart.add_item(user=customer, product_id=product.pk, quantity=1)
    order = checkout.checkout(user=customer, method="manual").order
    return payments.mark_paid_manually(
        order_id=order.pk, actor=finance, reference="BANK-TRANSFER-1"
    )


def _admin_login(page, user):
    page.goto("/admin/login/")
    page.fill('input[name="username"]', user.email)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    expect(page.locator("#site-name")).to_be_visible()


def _customer_login(page, user):
    page.goto("/accounts/login/")
    page.fill('input[name="login"]', user.email)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def _run_approval_action(page, approval, label: str = APPROVE):
    """Tick the request in the list, choose the action in the menu and press Go."""
    page.goto(APPROVALS)
    page.check(f'input[name="_selected_action"][value="{approval.pk}"]')
    page.select_option('select[name="action"]', label=label)
    page.get_by_role("button", name="Run").click()
    page.wait_for_load_state()


def _mark_paid_offered(page) -> bool:
    """Whether the list's action menu offers marking an order paid (by the action's name or
    its label, so rewording the label does not hide it from this check)."""
    options = page.locator('select[name="action"] option')
    expect(options.first).to_be_attached()  # the menu is there at all
    return any(
        value == "action_mark_paid" or label.lower().startswith("mark paid")
        for value, label in options.evaluate_all(
            "os => os.map(o => [o.value, o.textContent.trim()])"
        )
    )


def _shoot_action_menu(page, label: str) -> None:
    """A screenshot with the action menu shown open: a native drop-down does not render
    open in a screenshot, so it is drawn as a list box for the picture only."""
    page.locator('select[name="action"]').evaluate(
        "s => { s.size = s.options.length; s.style.height = 'auto'; }"
    )
    page.shots(label)


def test_refund_above_support_limit_waits_for_finance_and_the_customer_sees_it_once(person_page):
    customer = UserFactory(email="payer@example.com", first_name="Paula")
    agent = StaffFactory(email="agent@example.com", first_name="Sam")
    finance = FinanceFactory(email="fran@example.com", first_name="Fran")
    order = _paid_manual_order(customer, finance, 150_000)
    assert order.status == OrderStatus.COMPLETED and order.total == 150_000
    ticket = open_ticket(
        customer=customer,
        subject="Please refund my retainer",
        description="We cancelled the project; please refund the order.",
        related=clean_related(customer=customer, order_number=order.number),
    )

    support, approval = _support_asks_for_the_whole_amount(person_page, agent, ticket, order)
    _own_request_is_not_approved(support, approval, order)
    fin = _finance_approves_and_the_refund_runs(
        person_page, finance, agent, ticket, approval, order
    )
    _approving_again_runs_nothing(fin, approval, order)
    _customer_sees_one_refund(person_page, customer, order)


def _support_asks_for_the_whole_amount(person_page, agent, ticket, order):
    """The support agent opens the ticket and asks for the whole $1,500 back."""
    support = person_page("support")
    _admin_login(support, agent)
    support.goto("/admin/support/ticket/")
    support.get_by_role("link", name=ticket.number).click()
    support.wait_for_load_state()
    expect(support.get_by_role("heading", name=re.compile("Billing picture"))).to_be_visible()
    support.shots("ticket")
    expect(support.locator("#refund-order")).to_have_value(str(order.pk))
    support.fill("#refund-amount", "1500.00")
    support.select_option("#refund-reason", "REQUESTED_BY_CUSTOMER")
    support.fill("#refund-notes", "Project cancelled")
    support.get_by_role("button", name=re.compile(r"^Refund")).click()
    support.wait_for_load_state()
    expect(support.locator(".messagelist .warning")).to_contain_text(
        "waiting for a second staff member to approve"
    )
    support.shots("refund-requested")
    approval = ApprovalRequest.objects.get(ticket=ticket)
    assert (approval.action_key, approval.amount, approval.status) == (
        "billing.refund",
        150_000,
        ApprovalStatus.PENDING,
    )
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (0, OrderStatus.COMPLETED)
    assert not Refund.objects.filter(order=order).exists()
    return support, approval


def _own_request_is_not_approved(support, approval, order):
    """The agent cannot approve their own request."""
    _run_approval_action(support, approval)
    expect(support.locator(".messagelist .error")).to_contain_text(
        "You cannot approve your own request"
    )
    support.shots("self-approval-refused")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert not Refund.objects.filter(order=order).exists()


def _finance_approves_and_the_refund_runs(person_page, finance, agent, ticket, approval, order):
    """Finance finds the request in Approval requests and approves it: the refund runs."""
    fin = person_page("finance")
    _admin_login(fin, finance)
    fin.locator("#content").get_by_role("link", name="Approval requests").click()
    fin.wait_for_load_state()
    row = fin.locator("#result_list tbody tr").filter(
        has=fin.locator(f'input[name="_selected_action"][value="{approval.pk}"]')
    )
    for shown in ("Pending", agent.email, ticket.number):
        expect(row).to_contain_text(shown)
    fin.shots("pending-requests")
    _run_approval_action(fin, approval)
    expect(fin.locator(".messagelist .success")).to_have_text(
        f"#{approval.pk} approved and executed."
    )
    fin.shots("approved")
    approval.refresh_from_db()
    assert (approval.status, approval.approved_by_id) == (ApprovalStatus.EXECUTED, finance.pk)
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.status) == (150_000, Refund.Status.SUCCEEDED)
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (150_000, OrderStatus.REFUNDED)
    return fin


def _approving_again_runs_nothing(fin, approval, order):
    """Approving it again runs nothing a second time."""
    _run_approval_action(fin, approval)
    expect(fin.locator(".messagelist .success")).to_have_count(0)
    fin.shots("approved-again")
    assert Refund.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.refunded_amount == 150_000


def _customer_sees_one_refund(person_page, customer, order):
    """The customer sees one refund of the whole amount on the order page."""
    shopper = person_page("customer")
    _customer_login(shopper, customer)
    shopper.goto("/orders/")
    shopper.get_by_role("link", name=order.number).click()
    shopper.wait_for_load_state()
    expect(shopper.get_by_role("heading", name=f"Order {order.number}")).to_be_visible()
    refunds = shopper.locator("#main").get_by_text(re.compile(r"^Refunded:"))
    expect(refunds).to_have_count(1)
    expect(refunds).to_have_text("Refunded: $1,500.00")
    shopper.shots("order-refunded")


def test_support_is_not_offered_mark_paid_or_revenue_and_finance_is(person_page):
    customer = UserFactory(email="waiting@example.com")
    product = ProductFactory(name="Onboarding workshop", slug="onboarding-workshop")
    PriceFactory(product=product, unit_amount=45_000)
    cart.add_item(user=customer, product_id=product.pk, quantity=1)
    checkout.checkout(user=customer, method="manual")  # awaits a bank transfer
    agent = StaffFactory(email="agent@example.com")
    finance = FinanceFactory(email="fran@example.com")

    support = person_page("support")
    _admin_login(support, agent)
    expect(support.locator('#page a[href^="/admin/analytics/"]')).to_have_count(0)
    expect(support.locator("#page")).not_to_contain_text(
        re.compile("analytics|revenue|dashboard", re.IGNORECASE)
    )
    support.shots("admin-index")
    support.goto("/admin/billing/order/")
    assert not _mark_paid_offered(support)
    _shoot_action_menu(support, "orders-actions")

    fin = person_page("finance")
    _admin_login(fin, finance)
    expect(fin.locator('#content a[href^="/admin/analytics/"]').first).to_be_visible()
    fin.shots("admin-index")
    fin.goto("/admin/billing/order/")
    assert _mark_paid_offered(fin)
    _shoot_action_menu(fin, "orders-actions")
