"""A customer's money pages in a real browser, without Stripe keys: a cart with a discount
paid by bank transfer (order, invoice, PDF), a credit pack bought by invoice and paid by
finance, a subscription cancelled at period end and resumed, and the invoices list."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.factories import FinanceFactory, UserFactory
from billing.factories import DiscountFactory
from billing.models import InvoiceStatus, Order, Subscription
from billing.models import SubscriptionStatus as S
from billing.services import payments
from catalog.factories import CreditPackFactory, PriceFactory, ProductFactory
from credits.factories import FeatureCostFactory
from credits.models import CreditGrant
from credits.selectors import credit_summary
from credits.services import consume_credits

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_stripe_keys(settings):
    settings.STRIPE = {
        "secret_key": "",
        "publishable_key": "",
        "webhook_secret": "",
        "api_base": "",
        "live_mode": False,
    }


def _amount(text: str) -> int:
    """ "$45.00" -> 4500 (the page's dollars back to cents)."""
    return int(re.sub(r"[^\d]", "", text))


def _download_pdf(page, link) -> bytes:
    """Clicks the page's PDF link as the customer does; returns the file after checking the
    server answered it as a PDF that opens in the browser."""
    with page.expect_response(lambda r: r.url.endswith("/pdf/")) as answer:
        link.click()
    response = answer.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    # The browser shows the file in its PDF viewer (the response body it reports is the
    # viewer's page): the bytes are fetched again at that URL in the customer's session.
    again = page.context.request.get(response.url)
    assert again.ok and again.headers["content-type"] == "application/pdf"
    data = again.body()
    assert data.startswith(b"%PDF")
    return data


def _place_order_by_bank_transfer(page):
    page.get_by_role("link", name="Check out").click()
    page.wait_for_load_state()
    expect(page.locator("#pm-manual")).to_be_checked()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()


def test_cart_with_discount_checkout_by_invoice_then_invoice_page_and_pdf(
    page, logged_in, no_stripe_keys
):
    shots = page.shots
    DiscountFactory(code="SPRING20", percent_off=20)
    lamp = ProductFactory(name="Desk Lamp", slug="desk-lamp")
    PriceFactory(product=lamp, unit_amount=2500)
    user = UserFactory(email="lamp.buyer@example.com")
    logged_in(page, user)

    page.goto("/catalog/desk-lamp/")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    page.fill("#code", "SPRING20")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Discount code applied.")).to_be_visible()
    shots("cart-with-discount")
    _place_order_by_bank_transfer(page)

    order = Order.objects.get(user=user)
    invoice = order.invoice_or_none
    assert order.billing_source == "manual" and order.status == "PENDING"
    assert order.subtotal == 2500 and order.discount_amount == 500
    assert invoice is not None and invoice.status == InvoiceStatus.OPEN
    assert invoice.amount_due == order.total
    assert page.url.endswith(f"/orders/{order.number}/")
    expect(page.get_by_role("heading", name=f"Order {order.number}")).to_be_visible()
    how_to_pay = page.locator("section", has=page.get_by_role("heading", name="How to pay"))
    expect(how_to_pay).to_contain_text(invoice.payment_reference)
    assert _amount(how_to_pay.locator("strong").first.inner_text()) == order.total
    shots("order")
    page.get_by_role("link", name="All orders").click()
    page.wait_for_load_state()
    expect(page.locator("#main")).to_contain_text(order.number)
    page.get_by_role("link", name=order.number).first.click()
    page.wait_for_load_state()

    page.get_by_role("link", name=f"View invoice {invoice.number}").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
    expect(page.get_by_text(f"Order {order.number}")).to_be_visible()
    expect(page.locator("article")).to_contain_text(invoice.payment_reference)
    expect(page.locator("table.billing-table tbody")).to_contain_text("Desk Lamp")
    shots("invoice")
    _download_pdf(page, page.get_by_role("link", name="Download PDF"))


def test_credit_pack_bought_by_invoice_and_paid_by_finance_shows_on_credits_page(
    page, logged_in, no_stripe_keys
):
    shots = page.shots
    pack = CreditPackFactory(name="Starter Credits", slug="starter-credits", credits_granted=500)
    PriceFactory(product=pack, unit_amount=1000)
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=5, name="Text chat")
    customer = UserFactory(email="credits.buyer@example.com")
    logged_in(page, customer)
    before = CreditGrant.objects.filter(user=customer).count()

    page.goto("/credits/")
    shots("credits-before")
    page.locator("section.credits-summary").get_by_role("link", name="Buy a credit pack").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Starter Credits").first.click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    _place_order_by_bank_transfer(page)
    order = Order.objects.get(user=customer)
    assert order.status == "PENDING"
    assert CreditGrant.objects.filter(user=customer).count() == before  # nothing until paid
    shots("order-awaiting-transfer")

    # Finance records the bank transfer through the service the admin's action uses.
    payments.mark_paid_manually(
        order_id=order.pk, actor=FinanceFactory(), reference="BANK-2026-0042"
    )
    order.refresh_from_db()
    assert order.status == "COMPLETED"
    lot = CreditGrant.objects.get(user=customer, source="PURCHASE")
    assert lot.amount == lot.remaining == 500 and lot.source_ref == order.number
    # The customer uses some credits (as the API would), so the usage chart has a day.
    consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=3)
    balance = credit_summary(user=customer)["balance"]
    assert balance == sum(g.remaining for g in CreditGrant.objects.filter(user=customer))

    page.goto("/credits/")
    expect(page.get_by_test_id("balance")).to_contain_text(f"{balance:,}")
    lots = page.locator("section[aria-labelledby='lots-heading'] tbody tr")
    purchase_row = lots.filter(has_text="Credit pack purchase")
    expect(purchase_row).to_have_count(1)
    expect(purchase_row).to_contain_text("485")  # 500 granted, 15 used from it
    expect(purchase_row).to_contain_text("500")
    chart = page.locator("svg.credits-chart")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() >= 1
    expect(page.locator("ul.credits-legend")).to_contain_text("AI_TEXT_CHAT")
    shots("credits-after")


def test_subscription_cancelled_at_period_end_then_resumed(page, logged_in, no_stripe_keys):
    shots = page.shots
    call_command("seed_catalog", stdout=io.StringIO())
    customer = UserFactory(email="subscriber@example.com")
    logged_in(page, customer)
    page.goto("/pricing/")
    page.locator('a[href^="/billing/subscribe/business/"]').first.click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Confirm subscription").click()
    page.wait_for_load_state()
    expect(page.get_by_text("You are now subscribed to Business.")).to_be_visible()
    sub = Subscription.objects.get(user=customer)
    assert not sub.cancel_at_period_end

    page.goto("/billing/subscription/")
    expect(page.get_by_text("Renews on")).to_be_visible()
    shots("subscription-active")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel at period end").click()
    page.wait_for_load_state()
    expect(page.locator(".message.success")).to_have_text(
        "Your subscription will end at the period end."
    )
    sub.refresh_from_db()
    assert sub.cancel_at_period_end and sub.status in (S.ACTIVE, S.TRIALING)
    end = f"{sub.current_period_end:%-d %B %Y}"
    expect(page.get_by_text(f"Ends on {end}.")).to_be_visible()
    expect(page.get_by_role("button", name="Resume subscription")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel at period end")).to_have_count(0)
    timeline = page.locator("ol.timeline li")
    expect(timeline.first).to_contain_text("Your subscription will end on")
    shots("subscription-cancelling")

    page.get_by_role("button", name="Resume subscription").click()
    page.wait_for_load_state()
    expect(page.locator(".message.success")).to_have_text("Your subscription will renew as usual.")
    sub.refresh_from_db()
    assert not sub.cancel_at_period_end and sub.status in (S.ACTIVE, S.TRIALING)
    expect(page.get_by_text(f"Renews on {end}.")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel at period end")).to_be_visible()
    expect(timeline.first).to_contain_text("Your subscription will renew as usual.")
    shots("subscription-resumed")


def test_invoices_list_and_subscription_invoice_with_pdf(page, logged_in, no_stripe_keys):
    shots = page.shots
    call_command("seed_catalog", stdout=io.StringIO())
    customer = UserFactory(email="invoices@example.com")
    logged_in(page, customer)
    page.goto("/billing/invoices/")
    expect(page.get_by_text("You have no invoices yet.")).to_be_visible()
    shots("invoices-empty")

    guide = ProductFactory(name="Setup Guide", slug="setup-guide")
    PriceFactory(product=guide, unit_amount=1500)
    page.goto("/catalog/setup-guide/")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    _place_order_by_bank_transfer(page)
    order_invoice = Order.objects.get(user=customer).invoice_or_none
    page.goto("/billing/subscribe/business/?interval=month")
    page.get_by_role("button", name="Confirm subscription").click()
    page.wait_for_load_state()
    invoice = Subscription.objects.get(user=customer).invoices.get()
    assert invoice.status == InvoiceStatus.OPEN and invoice.total > 0

    page.goto("/billing/subscription/")
    page.get_by_role("link", name="All invoices").click()
    page.wait_for_load_state()
    rows = page.locator("table.billing-table tbody tr")
    expect(rows).to_have_count(2)  # newest first: the subscription's, then the order's
    expect(rows.first).to_contain_text(invoice.number)
    expect(rows.first).to_contain_text("Open")
    assert _amount(rows.first.locator("td.num").inner_text()) == invoice.total
    expect(rows.nth(1)).to_contain_text(order_invoice.number)
    assert _amount(rows.nth(1).locator("td.num").inner_text()) == order_invoice.total == 1500
    shots("invoices")

    rows.first.get_by_role("link", name=invoice.number).click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
    expect(page.locator("article")).to_contain_text(invoice.payment_reference)
    expect(page.locator("table.billing-table tbody")).to_contain_text("Business")
    totals = page.locator("dl.billing-totals dd").all_inner_texts()
    assert _amount(totals[-1]) == invoice.total
    shots("invoice")
    _download_pdf(page, page.get_by_role("link", name="Download PDF"))


def test_order_and_invoice_pages_fit_a_phone(mobile_page, logged_in, no_stripe_keys):
    page = mobile_page
    DiscountFactory(code="PHONE10", percent_off=10)
    kit = ProductFactory(name="Conference Room Starter Kit", slug="starter-kit")
    PriceFactory(product=kit, unit_amount=12900)
    customer = UserFactory(email="phone.buyer@example.com")
    logged_in(page, customer)
    page.goto("/catalog/starter-kit/")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    page.fill("#code", "PHONE10")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    page.shots("cart")
    _place_order_by_bank_transfer(page)
    order = Order.objects.get(user=customer)
    assert order.discount_amount == 1290
    page.shots("order")
    page.get_by_role("link", name=f"View invoice {order.invoice_or_none.number}").click()
    page.wait_for_load_state()
    page.shots("invoice")
    page.goto("/billing/invoices/")
    expect(page.locator("table.billing-table tbody tr")).to_have_count(1)
    page.shots("invoices")
