"""A customer's whole journey in a real browser against the real server."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.factories import StaffFactory
from accounts.models import User
from billing.factories import DiscountFactory
from catalog.factories import PriceFactory, ProductFactory
from credits.factories import FeatureCostFactory
from credits.services import consume_credits
from support.models import Ticket
from support.services import reply

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EMAIL = "new.customer@example.com"
CHOSEN_WORDS = "a-long-and-unusual-passphrase-7"


def _catalog():
    widget = ProductFactory(
        name="Quantum Widget",
        slug="quantum-widget",
        short_description="Measures everything at once.",
        tags=["hardware", "quantum"],
    )
    PriceFactory(product=widget, unit_amount=2500)
    other = ProductFactory(name="Plain Gadget", slug="plain-gadget")
    PriceFactory(product=other, unit_amount=900)
    DiscountFactory(code="WELCOME10", percent_off=10)
    return widget


def _sign_up_and_verify(page, shots):
    page.goto("/accounts/signup/")
    shots("signup")
    page.fill('input[name="email"]', EMAIL)
    page.fill('input[name="password1"]', CHOSEN_WORDS)
    page.fill('input[name="password2"]', CHOSEN_WORDS)
    page.locator("form[action='/accounts/signup/'] button[type=submit]").click()
    page.wait_for_load_state()
    shots("verification-sent")
    assert not User.objects.get(email=EMAIL).email_verified
    sent = [m for m in mail.outbox if EMAIL in m.to]
    assert sent, "no verification e-mail was sent"
    link = re.search(r"/accounts/confirm-email/[^/\s]+/", sent[-1].body).group(0)
    page.goto(link)
    shots("confirm-email")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    shots("verified")
    assert User.objects.get(email=EMAIL).email_verified


def _log_out_and_in(page, shots):
    page.goto("/accounts/logout/")
    page.locator("#main").get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    page.goto("/accounts/login/")
    shots("login")
    page.fill('input[name="login"]', EMAIL)
    page.fill('input[name="password"]', CHOSEN_WORDS)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    page.goto("/account/")
    expect(page.get_by_text(EMAIL).first).to_be_visible()
    shots("account")


def test_sign_up_shop_check_out_get_help_and_see_credits(page, live_server):
    shots = page.shots
    widget = _catalog()
    _sign_up_and_verify(page, shots)
    _log_out_and_in(page, shots)
    user = User.objects.get(email=EMAIL)
    _browse_and_search(page, shots)
    _buy_two_with_a_code(page, shots, user, widget)
    _ticket_answered(page, shots, user)
    _credits_and_usage_chart(page, shots, user)


def _browse_and_search(page, shots):
    # Browse and search the catalog.
    page.goto("/catalog/")
    expect(page.get_by_role("link", name="Plain Gadget").first).to_be_visible()
    shots("catalog")
    page.fill("#id_q", "quantum")
    page.locator("#id_q").press("Enter")
    page.wait_for_load_state()
    expect(page.get_by_role("link", name="Quantum Widget").first).to_be_visible()
    expect(page.get_by_role("link", name="Plain Gadget")).to_have_count(0)
    shots("search")
    page.get_by_role("link", name="Quantum Widget").first.click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Quantum Widget").first).to_be_visible()
    expect(page.locator("#quantity-limit")).to_have_text("Up to 1,000,000.")
    shots("product")


def _buy_two_with_a_code(page, shots, user, widget):
    # Add to cart, apply a code, check out with manual billing.
    page.fill("#add-quantity", "2")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    assert page.url.endswith("/cart/")
    expect(page.get_by_text("Quantum Widget").first).to_be_visible()
    shots("cart")
    page.fill("#code", "welcome10")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Discount code applied.")).to_be_visible()
    shots("code-applied")
    page.get_by_role("link", name="Check out").click()
    page.wait_for_load_state()
    expect(page.locator("#pm-manual")).to_be_checked()
    shots("checkout")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()
    order = user.orders.get()
    assert (order.subtotal, order.discount_amount) == (5000, 500)
    assert order.items.get().product_id == widget.pk
    assert order.number in page.url
    expect(page.get_by_text(order.number).first).to_be_visible()
    shots("order")
    page.goto("/orders/")
    expect(page.get_by_role("link", name=re.compile(order.number)).first).to_be_visible()
    shots("orders")


def _ticket_answered(page, shots, user):
    # Open a ticket; a staff member answers; read the answer.
    page.goto("/support/new/")
    shots("ticket-new")
    page.fill("#id_subject", "Where is my invoice?")
    page.fill("#id_description", "I paid by bank transfer yesterday.")
    page.get_by_role("button", name="Send ticket").click()
    page.wait_for_load_state()
    ticket = Ticket.objects.get(customer=user)
    reply(
        ticket=ticket,
        author=StaffFactory(first_name="Sam"),
        body="We have it: your invoice is attached to the order page.",
    )
    page.goto(f"/support/tickets/{ticket.pk}/")
    expect(page.get_by_text("We have it: your invoice is attached")).to_be_visible()
    shots("ticket-reply")


def _credits_and_usage_chart(page, shots, user):
    # Credits and the usage chart.
    FeatureCostFactory(operation="AI_TEXT_CHAT", name="AI text chat", cost=3)
    consume_credits(user=user, operation="AI_TEXT_CHAT", quantity=2)
    page.goto("/credits/")
    expect(page.locator("svg.credits-chart")).to_be_visible()
    expect(page.get_by_text("AI text chat").first).to_be_visible()
    shots("credits")
