"""Staff money and system work in the console, each person in their own browser: finance
records a bank transfer with its reference, refunds an order and a subscription invoice (the
customer sees the refund and the credit note), and an admin changes a setting, a staff
member's role, replays a failed webhook event and drills into an analytics metric."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from accounts.factories import FinanceFactory, StaffFactory, UserFactory
from accounts.models import Role
from analytics.rollup import rollup_day
from analytics.tests.builders import at, price, subscribe
from billing.factories import SubscriptionFactory, WebhookEventFactory
from billing.models import (
    CreditNote,
    InvoiceStatus,
    OrderStatus,
    Payment,
    Refund,
    WebhookEvent,
)
from billing.services import cart, checkout
from billing.services.invoices import issue_period_invoice, mark_invoice_paid
from catalog.factories import PlanFactory, PriceFactory, ProductFactory
from core.models import AuditAction, AuditLog, SystemConfig
from core.money import format_money

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ORDERS = "/admin/billing/order/"
INVOICES = "/admin/billing/invoice/"


def _manual_order(customer, amount: int):
    """An order the customer placed to pay by bank transfer: it waits for the money."""
    product = ProductFactory(name="Data migration package", slug="data-migration")
    PriceFactory(product=product, unit_amount=amount)
    cart.add_item(user=customer, product_id=product.pk, quantity=1)
    return checkout.checkout(user=customer, method="manual").order


def _choose_action(page, changelist: str, pk: int, action: str) -> None:
    """Tick the row in the list, choose the action in the menu and press Run."""
    page.goto(changelist)
    page.check(f'input[name="_selected_action"][value="{pk}"]')
    page.select_option('select[name="action"]', action)
    page.get_by_role("button", name="Run").click()
    page.wait_for_load_state()


def _mark_order_paid(fin, order, reference: str) -> None:
    _choose_action(fin, ORDERS, order.pk, "action_mark_paid")
    expect(fin.get_by_role("heading", level=1)).to_have_text("Mark these orders paid?")
    form = fin.locator("#content form")
    expect(form).to_contain_text(f"{order.number} · {order.user.email} · due")
    fin.get_by_label("Bank reference").fill(reference)
    fin.shots("mark-paid-form")
    confirm = fin.get_by_role("button", name="Yes, mark paid")
    # It looks like the page's main button, not like plain text.
    assert confirm.evaluate("b => getComputedStyle(b).backgroundColor") not in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    )
    confirm.click()
    expect(fin.locator(".messagelist .success")).to_contain_text("marked paid")


def test_finance_marks_a_bank_transfer_paid_with_its_reference(role_page):
    customer = UserFactory(email="transfer@example.com")
    order = _manual_order(customer, 120_000)
    assert order.status == OrderStatus.PENDING

    fin = role_page("finance")
    _mark_order_paid(fin, order, "NATWEST-88231")
    fin.shots("marked-paid")
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    payment = Payment.objects.get(invoice=order.invoice)
    assert (payment.provider, payment.provider_id, payment.amount) == (
        "manual",
        "NATWEST-88231",
        120_000,
    )

    # The order's page in the console shows it completed, with the bank reference.
    fin.goto(ORDERS)
    fin.locator("#result_list").get_by_role("link", name=order.number).click()
    fin.wait_for_load_state()
    content = fin.locator("#content")
    expect(content).to_contain_text("Completed")
    expect(content).to_contain_text("NATWEST-88231")
    fin.shots("order-page")


def test_finance_refunds_an_order_and_the_customer_sees_it(role_page, person_page, logged_in):
    customer = UserFactory(email="refundee@example.com")
    order = _manual_order(customer, 80_000)
    fin = role_page("finance")
    _mark_order_paid(fin, order, "BANK-5521")

    _choose_action(fin, ORDERS, order.pk, "action_refund")
    expect(fin.get_by_role("button", name="Confirm refund")).to_be_visible()
    fin.fill('input[name="amount"]', "250.00")
    fin.select_option('select[name="reason"]', "REQUESTED_BY_CUSTOMER")
    fin.fill('textarea[name="notes"]', "Two seats unused")
    fin.shots("refund-form")
    fin.get_by_role("button", name="Confirm refund").click()
    fin.wait_for_load_state()
    expect(fin.locator(".messagelist .success")).to_contain_text("refund of $250.00 recorded")
    fin.shots("refunded")
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.status) == (25_000, Refund.Status.SUCCEEDED)
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (25_000, OrderStatus.PARTIALLY_REFUNDED)

    shopper = logged_in(person_page("customer"), customer)
    shopper.goto(f"/orders/{order.number}/")
    expect(shopper.get_by_role("heading", name=f"Order {order.number}")).to_be_visible()
    expect(shopper.get_by_text(re.compile(r"^Refunded:"))).to_have_text("Refunded: $250.00")
    shopper.shots("order-refunded")


def _paid_manual_subscription_invoice(customer, finance):
    """A bank-transfer subscriber's period invoice, issued and paid by transfer."""

    plan = PlanFactory(slug="team")
    subscription = SubscriptionFactory(
        user=customer, plan=plan, price=plan.monthly_price, billing_source="manual"
    )
    invoice = issue_period_invoice(subscription=subscription, actor=finance)
    return mark_invoice_paid(invoice_id=invoice.pk, actor=finance, reference="BANK-SUB-1")


def test_finance_refunds_a_paid_subscription_invoice_and_the_customer_reads_the_credit_note(
    role_page, person_page, logged_in
):
    customer = UserFactory(email="subscriber@example.com")
    invoice = _paid_manual_subscription_invoice(customer, FinanceFactory(email="books@example.com"))
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid > 0
    paid = invoice.amount_paid

    fin = role_page("finance")
    mail.outbox.clear()
    _choose_action(fin, INVOICES, invoice.pk, "action_refund")
    expect(fin.get_by_role("heading", level=1)).to_contain_text(f"Refund invoice {invoice.number}")
    expect(fin.locator("#content")).to_contain_text("Manual invoice")
    fin.fill('input[name="amount"]', f"{paid / 100:.2f}")
    fin.select_option('select[name="reason"]', "REQUESTED_BY_CUSTOMER")
    fin.shots("invoice-refund-form")
    fin.get_by_role("button", name="Confirm refund").click()
    fin.wait_for_load_state()
    expect(fin.locator(".messagelist .success")).to_contain_text("recorded")
    fin.shots("invoice-refunded")
    invoice.refresh_from_db()
    assert (invoice.refunded_amount, invoice.status) == (paid, InvoiceStatus.REFUNDED)
    note = CreditNote.objects.get(invoice=invoice)
    assert note.amount == paid
    refund = Refund.objects.get(invoice=invoice)
    assert (refund.amount, refund.status) == (paid, Refund.Status.SUCCEEDED)

    # The customer is e-mailed the credit note once, with a link to it.
    [sent] = [m for m in mail.outbox if m.to == [customer.email] and "Credit note" in m.subject]
    assert note.number in sent.subject and format_money(paid, invoice.currency) in sent.body
    link = re.search(r"https?://\S+(/billing/credit-notes/[^/\s]+/)", sent.body).group(1)
    assert link == f"/billing/credit-notes/{note.number}/"

    shopper = logged_in(person_page("customer"), customer)
    shopper.goto(f"/billing/invoices/{invoice.number}/")
    expect(shopper.locator("#main")).to_contain_text("Refunded:")
    shopper.shots("invoice")
    shopper.get_by_role("link", name=note.number).click()
    shopper.wait_for_load_state()
    assert shopper.url.endswith(f"/billing/credit-notes/{note.number}/")
    expect(shopper.locator("#main")).to_contain_text(note.number)
    expect(shopper.locator("#main")).to_contain_text(invoice.number)
    shopper.shots("credit-note")
    shopper.goto(link)  # the e-mail's link, on this server
    expect(shopper.locator("#main")).to_contain_text(note.number)


def _sidebar_links(page) -> list[str]:
    return page.locator("#nav-sidebar-apps li a").evaluate_all(
        "links => links.map(a => a.querySelector('span:not(.material-symbols-outlined)')"
        ".textContent.trim())"
    )


def test_admin_changes_a_setting_and_the_customer_pages_show_it(role_page, person_page, logged_in):

    customer = UserFactory(email="reader@example.com")
    shopper = logged_in(person_page("customer"), customer)
    shopper.goto("/orders/")
    expect(shopper.locator("header, nav").first).to_contain_text("Acme Cloud Ltd")

    admin = role_page("admin")
    admin.goto("/admin/")
    admin.locator("#nav-sidebar-apps").get_by_role("link", name=re.compile(r"\bSettings$")).click()
    admin.wait_for_load_state()
    admin.locator('#content a[href$="/core/systemconfig/add/"]').first.click()
    admin.wait_for_load_state()
    admin.select_option('select[name="key"]', "business_name")
    admin.fill('input[name="value"]', "Globex Billing")
    admin.shots("setting-form")
    admin.locator('input[name="_save"], button[name="_save"]').first.click()
    admin.wait_for_load_state()
    expect(admin.locator(".messagelist .success")).to_be_visible()
    expect(admin.locator("#result_list")).to_contain_text("Globex Billing")
    admin.shots("settings-list")
    row = SystemConfig.objects.get(key="business_name")
    assert (row.value, row.updated_by_id) == ("Globex Billing", admin.user.pk)

    shopper.reload()
    expect(shopper.locator("header, nav").first).to_contain_text("Globex Billing")
    expect(shopper.locator("body")).not_to_contain_text("Acme Cloud Ltd")
    shopper.shots("renamed")


def test_admin_makes_a_support_agent_finance_and_their_console_grows(
    role_page, person_page, logged_in
):

    agent = StaffFactory(email="sam.agent@example.com")
    sam = logged_in(person_page("sam"), agent)
    sam.goto("/admin/")
    before = _sidebar_links(sam)
    assert "Accounting exports" not in before and "Analytics dashboard" not in before
    sam.shots("console-as-support")

    admin = role_page("admin")
    admin.goto("/admin/")
    admin.locator("#nav-sidebar-apps").get_by_role("link", name="Users and roles").click()
    admin.wait_for_load_state()
    admin.fill('input[name="q"]', "sam.agent@")
    admin.keyboard.press("Enter")
    admin.wait_for_load_state()
    admin.locator("#result_list").get_by_role("link", name=agent.email).click()
    admin.wait_for_load_state()
    admin.select_option('select[name="role"]', Role.FINANCE)
    admin.shots("user-form")
    admin.locator('input[name="_save"], button[name="_save"]').first.click()
    admin.wait_for_load_state()
    expect(admin.locator(".messagelist .success")).to_be_visible()
    admin.shots("saved")
    agent.refresh_from_db()
    assert agent.role == Role.FINANCE
    assert (
        AuditLog.objects.filter(
            action=AuditAction.ROLE_CHANGE, actor=admin.user, resource_id=str(agent.pk)
        ).count()
        == 1
    )

    sam.reload()
    after = _sidebar_links(sam)
    assert "Accounting exports" in after and "Analytics dashboard" in after
    sam.shots("console-as-finance")


def test_admin_replays_a_failed_webhook_event(role_page):

    event = WebhookEventFactory(
        stripe_event_id="evt_e2e_failed",
        type="customer.updated",
        payload={
            "id": "evt_e2e_failed",
            "type": "customer.updated",
            "data": {
                "object": {"id": "cus_E2E", "object": "customer", "email": "later@example.com"}
            },
        },
        status=WebhookEvent.Status.FAILED,
        attempts=1,
        last_error="ConnectionError: Stripe could not be reached",
    )

    admin = role_page("admin")
    admin.goto("/admin/")
    admin.locator("#nav-sidebar-apps").get_by_role("link", name="Webhook events").click()
    admin.wait_for_load_state()
    row = admin.locator("#result_list tbody tr").filter(has_text="evt_e2e_failed")
    expect(row).to_contain_text("Failed")
    admin.shots("failed-event")
    _choose_action(admin, "/admin/billing/webhookevent/", event.pk, "action_replay")
    expect(admin.locator(".messagelist .success")).to_have_text(
        "1 event(s) queued for processing again."
    )
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (
        WebhookEvent.Status.PROCESSED,
        2,
        "",
    )
    assert AuditLog.objects.filter(
        resource_type="billing.WebhookEvent", resource_id=str(event.pk)
    ).exists()
    admin.reload()
    expect(
        admin.locator("#result_list tbody tr").filter(has_text="evt_e2e_failed")
    ).to_contain_text("Processed")
    admin.shots("replayed")


def test_finance_drills_into_a_days_mrr_from_the_dashboard(role_page):

    today = timezone.localdate()
    alice = UserFactory(email="alice.mrr@example.com")
    bob = UserFactory(email="bob.mrr@example.com")
    subscribe(alice, price_obj=price(2900), created=at(today - timedelta(days=40)))
    subscribe(bob, price_obj=price(29000, "year"), created=at(today - timedelta(days=10)))
    for back in (1, 2):
        rollup_day(today - timedelta(days=back))

    fin = role_page("finance")
    fin.goto("/admin/")
    fin.locator("#nav-sidebar-apps").get_by_role("link", name="Analytics dashboard").click()
    expect(fin.get_by_role("heading", level=1)).to_have_text("Analytics dashboard")
    expect(fin.locator("#drill-day")).to_have_value((today - timedelta(days=1)).isoformat())
    # The MRR tile (read from the customers' MRR the database keeps) is $29 a month plus
    # $290 a year as a month, the sum of the subscriptions the drill-down prices one by one.
    mrr_tile = fin.locator(".analytics-tile").filter(
        has=fin.locator(".tile-label", has_text=re.compile(r"^MRR \(USD\)$"))
    )
    expect(mrr_tile.locator(".tile-value")).to_have_text("53.17 USD")
    fin.shots("dashboard")
    fin.get_by_role("button", name="Show subscriptions").click()
    fin.wait_for_load_state()
    expect(fin.get_by_role("heading", level=1)).to_contain_text("MRR on")
    expect(fin.locator("#nav-sidebar-apps")).to_be_visible()  # a console page, not a bare one
    table = fin.locator("#content table").first
    # The caption is for screen readers only: it takes no room on the screen.
    assert table.locator("caption").bounding_box()["height"] <= 1
    expect(table).to_contain_text("alice.mrr@example.com")
    expect(table).to_contain_text("bob.mrr@example.com")
    expect(fin.locator("#content")).to_contain_text("29.00")
    expect(fin.locator("#content")).to_contain_text(re.compile(r"totalling\s+53\.17 USD\s+a month"))
    fin.shots("drilldown")
