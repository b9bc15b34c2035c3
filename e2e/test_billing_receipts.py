"""A payment's receipt in a real browser: the e-mail's link opens the receipt page, and the
Payments page lists the payment with what it paid."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.factories import TEST_PASSWORD, AdminFactory, UserFactory
from billing.models import Order, Payment
from billing.services import payments
from catalog.factories import PriceFactory, ProductFactory

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


def test_payment_receipt_email_page_and_payments_page(page, no_stripe_keys):
    shots = page.shots
    product = ProductFactory(name="Pitch Deck Template", slug="pitch-deck", tax_rate="0.2000")
    PriceFactory(product=product, unit_amount=4900)
    user = UserFactory(email="payer@example.com")
    page.goto("/accounts/login/")
    page.fill('input[name="login"]', user.email)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()

    page.goto("/billing/payments/")
    expect(page.get_by_text("You have made no payments yet.")).to_be_visible()
    shots("payments-empty")
    page.goto("/catalog/pitch-deck/")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Check out").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()
    order = Order.objects.get(user=user)

    # Finance records the bank transfer; the customer gets the receipt by e-mail.
    mail.outbox.clear()
    payments.mark_paid_manually(order_id=order.pk, actor=AdminFactory())
    payment = Payment.objects.get(order=order)
    [message] = [m for m in mail.outbox if m.to == [user.email]]
    assert "Payment received" in message.subject and "$58.80" in message.body
    link = re.search(r"https?://\S+/billing/payments/\d+/", message.body).group(0)
    page.goto("/billing/" + link.split("/billing/", 1)[1])  # the e-mail's link, on this server
    expect(page.get_by_role("heading", name=f"Receipt {payment.receipt_number}")).to_be_visible()
    expect(page.locator("#receipt-amount")).to_have_text("$58.80")
    expect(page.get_by_text("Tax (20%)")).to_be_visible()
    shots("receipt")

    page.get_by_role("link", name="All payments").click()
    page.wait_for_load_state()
    row = page.locator("#payments tbody tr").first
    expect(row).to_contain_text(payment.receipt_number)
    expect(row).to_contain_text(f"Order {order.number}")
    expect(row).to_contain_text("Bank transfer")
    expect(row).to_contain_text("$58.80")
    shots("payments")
    row.get_by_role("link", name=payment.receipt_number).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/billing/payments/{payment.pk}/")
