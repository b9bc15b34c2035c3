"""Buying plans in a real browser without Stripe keys: every seeded plan, a first-time code
refused on its second use, and a plan change after an unpaid invoice whose numbers add up."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.factories import TEST_PASSWORD, UserFactory
from billing.factories import DiscountFactory
from billing.models import InvoiceStatus, Subscription
from billing.models import SubscriptionStatus as S
from billing.services import invoice_lines
from catalog.factories import PriceFactory, ProductFactory
from catalog.models import Plan

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


def _log_in(page, email):
    user = UserFactory(email=email)
    page.goto("/accounts/login/")
    page.fill('input[name="login"]', email)
    page.fill('input[name="password"]', TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    return user


def _log_out(page):
    page.goto("/accounts/logout/")
    page.locator("#main").get_by_role("button", name="Log out").click()
    page.wait_for_load_state()


def _amount(text: str) -> int:
    """ "-$22.94" -> -2294 (the page's dollars back to cents)."""
    negative = "-" in text or "−" in text
    value = int(re.sub(r"[^\d]", "", text))
    return -value if negative else value


def test_every_seeded_plan_is_bought_from_the_pricing_page_without_stripe(page, no_stripe_keys):
    shots = page.shots
    call_command("seed_catalog", stdout=io.StringIO())
    plans = list(
        Plan.objects.filter(active=True, cta_type=Plan.CtaType.SUBSCRIBE).order_by(
            "sort_order", "id"
        )
    )
    assert {plan.slug for plan in plans} >= {"free", "pro", "business"}
    for plan in plans:
        user = _log_in(page, f"{plan.slug}.buyer@example.com")
        page.goto("/pricing/")
        shots(f"pricing-{plan.slug}")
        page.locator(f'a[href^="/billing/subscribe/{plan.slug}/"]').click()
        page.wait_for_load_state()
        expect(page.get_by_role("heading", name=f"Subscribe to {plan.name}")).to_be_visible()
        if plan.monthly_price.unit_amount:
            expect(page.locator("#payment-path")).to_contain_text("Billed by invoice")
        shots(f"subscribe-{plan.slug}")
        page.get_by_role("button", name="Confirm subscription").click()
        page.wait_for_load_state()
        expect(page.get_by_text(f"You are now subscribed to {plan.name}.")).to_be_visible()
        shots(f"subscribed-{plan.slug}")
        sub = Subscription.objects.get(user=user)
        expected = S.TRIALING if plan.product.trial_days else S.ACTIVE
        assert sub.status == expected and sub.billing_source == "manual"
        _log_out(page)


def test_welcome10_is_refused_on_its_second_use(page, no_stripe_keys):
    shots = page.shots
    call_command("seed_catalog", stdout=io.StringIO())
    DiscountFactory(code="WELCOME10", percent_off=10, first_time_only=True)
    widget = ProductFactory(name="Quantum Widget", slug="quantum-widget")
    PriceFactory(product=widget, unit_amount=2500)
    user = _log_in(page, "twice@example.com")

    # First use: an order paid by bank transfer.
    page.goto("/catalog/quantum-widget/")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_load_state()
    page.fill("#code", "WELCOME10")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Discount code applied.")).to_be_visible()
    page.get_by_role("link", name="Check out").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()
    assert user.orders.get().discount_amount == 250
    shots("first-use-order")

    # Second use: on a subscription, refused next to the field, nothing started (the
    # refused form's page answers 400, as bad input does).
    page.checks.expect(r"/billing/subscribe/business/", 400)
    page.goto("/billing/subscribe/business/?interval=month")
    page.fill("#discount_code", "WELCOME10")
    page.get_by_role("button", name="Confirm subscription").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("first purchase only")
    assert alert.get_attribute("data-code") == "discount_first_order_only"
    shots("second-use-refused")
    assert not Subscription.objects.filter(user=user).exists()


def test_plan_change_after_an_unpaid_invoice_adds_up_on_the_page(page, no_stripe_keys):
    shots = page.shots
    call_command("seed_catalog", stdout=io.StringIO())
    DiscountFactory(code="WELCOME10", percent_off=10, first_time_only=True)
    user = _log_in(page, "changer@example.com")
    page.goto("/billing/subscribe/business/?interval=month")
    page.fill("#discount_code", "WELCOME10")
    page.get_by_role("button", name="Confirm subscription").click()
    page.wait_for_load_state()
    sub = Subscription.objects.get(user=user)
    first = sub.invoices.get()
    assert first.status == InvoiceStatus.OPEN and first.discount_amount == 790
    # Ten days of the month have gone by, unpaid.
    back = timedelta(days=10)
    Subscription.objects.filter(pk=sub.pk).update(
        current_period_start=sub.current_period_start - back,
        current_period_end=sub.current_period_end - back,
    )
    type(first).objects.filter(pk=first.pk).update(
        period_start=first.period_start - back, period_end=first.period_end - back
    )

    page.get_by_role("link", name="Change plan or interval").click()
    page.wait_for_load_state()
    page.select_option("#plan", "business")
    page.select_option("#interval", "year")
    page.get_by_role("button", name="Preview the change").click()
    page.wait_for_load_state()
    shots("preview")
    expect(page.locator("#voids-invoice")).to_contain_text(first.number)
    lines = [_amount(t) for t in page.locator("table.billing-table td.num").all_inner_texts()]
    figures = [_amount(t) for t in page.locator("#change-totals dd").all_inner_texts()]
    subtotal, tax, total = figures[0], figures[-2], figures[-1]
    discount = figures[1] if len(figures) == 4 else 0
    assert sum(lines) == total == subtotal + discount + tax  # the credit is shown negative
    # Nothing credited for the unpaid month: the ten days used are charged, then the year.
    assert len(lines) == 2 and all(line > 0 for line in lines) and lines[1] == 79000
    used = lines[0]
    assert 7110 * 9 // 31 < used < 7110 * 11 // 31
    due = _amount(page.locator("#due-now strong").inner_text())
    assert due == total
    page.get_by_role("button", name=re.compile("Confirm change")).click()
    page.wait_for_load_state()
    expect(page.get_by_text("Your plan is now Business.")).to_be_visible()
    first.refresh_from_db()
    assert first.status == InvoiceStatus.VOID
    change = sub.invoices.get(billing_reason="subscription_update")
    assert change.total == total and invoice_lines.reconciliation_problems(change) == []

    page.goto(f"/billing/invoices/{change.number}/")
    shots("change-invoice")
    lines = [_amount(t) for t in page.locator("table.billing-table td.num").all_inner_texts()]
    totals = page.locator("dl.billing-totals dd").all_inner_texts()
    assert sum(lines) == _amount(totals[-1]) == change.total
