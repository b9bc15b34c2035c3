"""Promotion codes in a real browser, as customers, without Stripe keys: one subscribes with
a campaign's code and sees its discount on the invoice; a second customer finds the code used
up on the subscribe page, and an expired code refused in the cart, each beside the field."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.factories import UserFactory
from billing.factories import DiscountFactory
from billing.models import Cart, DiscountUsage, PromotionCode, Subscription
from catalog.factories import PriceFactory, ProductFactory
from coupons.models import CouponDuration

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


def test_a_campaign_code_once_then_used_up_and_an_expired_one(
    person_page, logged_in, no_stripe_keys
):
    call_command("seed_catalog", stdout=io.StringIO())
    coupon = DiscountFactory(code="SPRING-COUPON", name="25% off for 3 months", percent_off=25)
    CouponDuration.objects.create(discount=coupon, duration="repeating", duration_in_months=3)
    spring = PromotionCode.objects.create(discount=coupon, code="SPRING25", max_redemptions=1)
    PromotionCode.objects.create(
        discount=coupon, code="WINTER25", expires_at=timezone.now() - timedelta(days=1)
    )

    # The first customer subscribes with SPRING25 and sees it on the invoice.
    first = logged_in(person_page("first"), UserFactory(email="first.promo@example.com"))
    first.goto("/billing/subscribe/business/?interval=month")
    first.fill("#discount_code", "spring25")
    first.shots("code-typed")
    first.get_by_role("button", name="Confirm subscription").click()
    first.wait_for_load_state()
    expect(first.get_by_text("You are now subscribed to Business.")).to_be_visible()
    subscription = Subscription.objects.get(user__email="first.promo@example.com")
    invoice = subscription.invoices.get()
    assert invoice.discount_amount > 0
    first.goto(f"/billing/invoices/{invoice.number}/")
    expect(first.get_by_role("cell", name="Discount SPRING25 (3 months)")).to_be_visible()
    expect(first.locator(".invoice")).to_contain_text("Discounts and credits")
    first.shots("invoice-with-code")
    assert DiscountUsage.objects.get(subscription=subscription).promotion_code == spring

    # A second customer: the code is used up, said beside the field; nothing started.
    second = logged_in(person_page("second"), UserFactory(email="second.promo@example.com"))
    second.checks.expect(r"/billing/subscribe/business/", 400)
    second.goto("/billing/subscribe/business/?interval=month")
    second.fill("#discount_code", "SPRING25")
    second.get_by_role("button", name="Confirm subscription").click()
    second.wait_for_load_state()
    error = second.locator("#discount_code-errors")
    expect(error).to_contain_text("used the maximum number of times")
    assert error.get_attribute("data-code") == "promotion_code_exhausted"
    expect(second.locator("#discount_code")).to_have_attribute("aria-invalid", "true")
    expect(second.locator("#discount_code")).to_have_value("SPRING25")
    second.shots("code-used-up")
    assert not Subscription.objects.filter(user__email="second.promo@example.com").exists()

    # In the cart, an expired campaign code is refused beside the code field.
    widget = ProductFactory(name="Promo Widget", slug="promo-widget")
    PriceFactory(product=widget, unit_amount=4000)
    second.goto("/catalog/promo-widget/")
    second.get_by_role("button", name="Add to cart").click()
    second.wait_for_load_state()
    second.checks.expect(r"/cart/", 400)
    second.fill("#code", "WINTER25")
    second.get_by_role("button", name="Apply").click()
    second.wait_for_load_state()
    expect(second.locator("#code-errors")).to_contain_text("This promotion code has expired.")
    second.shots("expired-in-cart")
    cart = Cart.objects.get(user__email="second.promo@example.com")
    assert cart.promotion_code_id is None and cart.discount_id is None
    spring.refresh_from_db()
    assert spring.times_redeemed == 1
    assert re.search(r"\$40\.00", second.locator("main").inner_text())


def _run_action(page, changelist: str, pk: int, action: str, confirm: str):
    page.goto(changelist)
    page.check(f'input[name="_selected_action"][value="{pk}"]')
    page.select_option('select[name="action"]', action)
    page.get_by_role("button", name="Run").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"\?$"))
    page.get_by_role("button", name=confirm).click()
    expect(page.locator(".messagelist")).to_be_visible()


def test_finance_makes_a_partner_code_for_a_coupon_and_deactivates_it(role_page):
    coupon = DiscountFactory(code="PARTNER-COUPON", name="Partner discount", percent_off=15)
    fin = role_page("finance")
    fin.goto("/admin/billing/promotioncode/add/")
    fin.select_option('select[name="discount"]', str(coupon.pk))
    fin.fill('input[name="code"]', "PARTNER-ACME")
    fin.fill('input[name="max_redemptions"]', "20")
    fin.fill('input[name="max_per_customer"]', "1")
    fin.fill('input[name="minimum_amount"]', "50.00")
    fin.shots("promotion-code-form")
    fin.locator('input[name="_save"], button[name="_save"]').first.click()
    fin.wait_for_load_state()
    promotion = PromotionCode.objects.get(code="PARTNER-ACME")
    assert (promotion.discount, promotion.minimum_amount) == (coupon, 5000)
    expect(fin.locator("#result_list")).to_contain_text("PARTNER-ACME")
    fin.shots("promotion-code-list")

    _run_action(
        fin,
        "/admin/billing/promotioncode/",
        promotion.pk,
        "deactivate",
        confirm="Yes, deactivate",
    )
    expect(fin.locator(".messagelist")).to_contain_text("1 promotion code(s) deactivated.")
    fin.shots("promotion-code-deactivated")
    promotion.refresh_from_db()
    assert not promotion.active
