"""Promotion codes: several customer-facing codes for one coupon, each with its own limits
(total, per customer, first-time customers, start and expiry, minimum amount), checked on top
of the coupon's own wherever a code is typed (the cart and checkout, the subscribe page, the
API), refused with their own codes and nothing changed, recorded on the usage row, and shown
on every invoice the coupon comes off."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.factories import UserFactory
from billing.factories import DiscountFactory, FixedDiscountFactory, OrderFactory
from billing.models import Cart, DiscountUsage, Invoice, PromotionCode, Subscription
from billing.models import SubscriptionStatus as S
from billing.services import cart as cart_service
from billing.services import checkout, promotion_codes
from billing.services.numbers import next_number
from billing.services.payments import mark_order_paid
from billing.services.subscriptions import lifecycle
from billing.services.subscriptions.renewal import renew_manual_subscriptions
from catalog.factories import PlanFactory
from coupons.models import CouponDuration

pytestmark = pytest.mark.django_db


def _promo(code="SPRING25", discount=None, **limits):
    discount = discount or DiscountFactory(code=f"COUPON-{code}", percent_off=25)
    return PromotionCode.objects.create(discount=discount, code=code, **limits)


def _apply(api, product, code):
    assert api.post("/api/v1/cart/", {"product_id": product.pk}, format="json").status_code == 201
    return api.patch("/api/v1/cart/", {"discount_code": code}, format="json")


def _counts_match(promotion):
    promotion.refresh_from_db()
    assert (
        promotion.times_redeemed == DiscountUsage.objects.filter(promotion_code=promotion).count()
    )
    return promotion.times_redeemed


def test_a_promotion_code_applies_its_coupon_and_the_use_records_the_code(
    no_stripe, customer, customer_api, product
):
    spring = _promo("SPRING25")
    partner = _promo("PARTNER-ACME", discount=spring.discount)
    applied = _apply(customer_api, product, "spring25")
    assert applied.status_code == 200, applied.json()
    body = applied.json()
    assert body["discount_code"] == "SPRING25" and body["discount_amount"] == 475
    placed = customer_api.post("/api/v1/checkout/", {"payment_method": "manual"}, format="json")
    assert placed.status_code == 201, placed.json()
    usage = DiscountUsage.objects.get(user=customer)
    assert (usage.discount, usage.promotion_code, usage.amount_saved) == (
        spring.discount,
        spring,
        475,
    )
    spring.discount.refresh_from_db()
    assert spring.discount.uses_count == 1
    assert (_counts_match(spring), _counts_match(partner)) == (1, 0)


def test_a_coupon_with_promotion_codes_is_not_redeemed_by_its_own_code(
    no_stripe, customer_api, product
):
    spring = _promo("SPRING25")
    refused = _apply(customer_api, product, spring.discount.code)
    assert refused.status_code == 400 and refused.json()["code"] == "discount_not_found"


@pytest.mark.parametrize(
    "limits, code",
    [
        ({"active": False}, "promotion_code_inactive"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "promotion_code_expired"),
        ({"starts_at": timezone.now() + timedelta(days=1)}, "promotion_code_not_started"),
        ({"max_redemptions": 2, "times_redeemed": 2}, "promotion_code_exhausted"),
        (
            {"minimum_amount": 5000, "minimum_amount_currency": "usd"},
            "promotion_code_minimum_not_met",
        ),
        (
            {"minimum_amount": 1000, "minimum_amount_currency": "eur"},
            "promotion_code_currency_mismatch",
        ),
    ],
)
def test_each_limit_of_the_code_refuses_with_its_own_code_and_changes_nothing(
    no_stripe, customer, customer_api, product, limits, code
):
    promotion = _promo("SPRING25", **limits)
    refused = _apply(customer_api, product, "SPRING25")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["code"] == code
    cart = Cart.objects.get(user=customer)
    assert cart.discount_id is None and cart.promotion_code_id is None
    assert not DiscountUsage.objects.exists()
    promotion.refresh_from_db()
    assert promotion.times_redeemed == limits.get("times_redeemed", 0)


def test_the_minimum_is_said_in_money_of_the_coupons_currency(no_stripe, customer_api, product):
    coupon = FixedDiscountFactory(code="FIVE-OFF", amount_off=500, currency="usd")
    _promo("BIGSPEND", discount=coupon, minimum_amount=5000, minimum_amount_currency="usd")
    refused = _apply(customer_api, product, "BIGSPEND")
    assert refused.json()["code"] == "promotion_code_minimum_not_met"
    assert "$50.00" in refused.json()["detail"] and "$19.00" in refused.json()["detail"]


def test_per_customer_limit_counts_orders_and_subscriptions_together(
    no_stripe, customer, customer_api, product
):
    PlanFactory(slug="office", billing_source="manual")
    promotion = _promo("ONEEACH", max_per_customer=1)
    assert _apply(customer_api, product, "ONEEACH").status_code == 200
    assert (
        customer_api.post(
            "/api/v1/checkout/", {"payment_method": "manual"}, format="json"
        ).status_code
        == 201
    )
    refused = customer_api.post(
        "/api/v1/subscriptions/",
        {"plan": "office", "interval": "month", "discount_code": "oneeach"},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["code"] == "promotion_code_customer_limit"
    assert (
        not Subscription.objects.filter(user=customer).exclude(status=S.INCOMPLETE_EXPIRED).exists()
    )
    # Another customer still may.
    other = lifecycle.subscribe(
        user=UserFactory(), plan="office", interval="month", discount_code="ONEEACH"
    ).subscription
    assert other.promotion_code == promotion
    assert _counts_match(promotion) == 2


def test_first_time_only_refuses_a_customer_who_has_paid_before(
    no_stripe, customer, customer_api, product
):
    _promo("HELLO", first_time_only=True)
    assert _apply(customer_api, product, "HELLO").status_code == 200
    order = OrderFactory(user=customer)
    mark_order_paid(
        order_id=order.pk, provider="manual", provider_id="bank-1", amount=1900, currency="usd"
    )
    refused = customer_api.patch("/api/v1/cart/", {"discount_code": "HELLO"}, format="json")
    assert refused.json()["code"] == "promotion_code_first_time_only"
    # The cart no longer shows the code it remembered, and says why.
    shown = customer_api.get("/api/v1/cart/").json()
    assert shown["discount_code"] is None
    assert shown["discount_error"]["code"] == "promotion_code_first_time_only"


def test_the_coupons_own_limits_hold_through_its_promotion_codes(no_stripe, customer_api, product):
    coupon = DiscountFactory(code="SMALL-BATCH", max_uses=1, uses_count=1)
    _promo("BATCH", discount=coupon)
    refused = _apply(customer_api, product, "BATCH")
    assert refused.json()["code"] == "discount_exhausted"


def test_each_invoice_the_coupon_comes_off_names_the_promotion_code(no_stripe, customer):
    PlanFactory(slug="office", billing_source="manual")
    promotion = _promo("SPRING25")
    CouponDuration.objects.create(
        discount=promotion.discount, duration="repeating", duration_in_months=3
    )
    subscription = lifecycle.subscribe(
        user=customer, plan="office", interval="month", discount_code="spring25"
    ).subscription
    assert DiscountUsage.objects.get(subscription=subscription).promotion_code == promotion
    for _ in range(3):
        # The customer pays each invoice, so the nightly pass renews the subscription.
        Invoice.objects.filter(subscription=subscription).update(status="PAID")
        subscription.refresh_from_db()
        with time_machine.travel(subscription.current_period_end + timedelta(minutes=1)):
            renew_manual_subscriptions()
    invoices = list(Invoice.objects.filter(subscription=subscription).order_by("period_start"))
    named = [
        "Discount SPRING25 (3 months)" in [line["description"] for line in invoice.lines]
        for invoice in invoices
    ]
    assert named == [True, True, True, False]


def test_a_stripe_checkout_creates_the_promotion_code_at_stripe_once(stripe_double, customer):
    PlanFactory(slug="pro", name="Pro")
    expires = timezone.now() + timedelta(days=30)
    coupon = FixedDiscountFactory(code="TEN-OFF", amount_off=1000, currency="usd")
    CouponDuration.objects.create(discount=coupon, duration="repeating", duration_in_months=2)
    promotion = _promo(
        "PARTNER-ACME",
        discount=coupon,
        max_redemptions=50,
        first_time_only=True,
        expires_at=expires,
        minimum_amount=500,
        minimum_amount_currency="usd",
    )
    urls = {"success_url": "https://x.test/ok", "cancel_url": "https://x.test/no"}
    first = lifecycle.subscribe(
        user=customer, plan="pro", interval="month", discount_code="PARTNER-ACME", **urls
    )
    [coupon_call] = stripe_double.calls("POST", "/v1/coupons")
    assert coupon_call.params["duration"] == "repeating"
    assert coupon_call.params["duration_in_months"] == "2"
    assert coupon_call.params["amount_off"] == "1000"
    [created] = stripe_double.calls("POST", "/v1/promotion_codes")
    assert created.params["code"] == "PARTNER-ACME"
    assert created.params["promotion"] == {
        "type": "coupon",
        "coupon": coupon_call_id(stripe_double),
    }
    assert created.params["max_redemptions"] == "50"
    assert created.params["expires_at"] == str(int(expires.timestamp()))
    assert created.params["restrictions"] == {
        "first_time_transaction": "true",
        "minimum_amount": "500",
        "minimum_amount_currency": "usd",
    }
    promotion.refresh_from_db()
    coupon.refresh_from_db()
    stripe_promo = stripe_double.get("promotion_code", promotion.stripe_promotion_code_id)
    assert stripe_promo["promotion"]["coupon"] == coupon.stripe_coupon_id
    assert stripe_promo["restrictions"]["first_time_transaction"] is True
    [session] = stripe_double.calls("POST", "/v1/checkout/sessions")
    assert session.params["discounts"] == [{"promotion_code": promotion.stripe_promotion_code_id}]
    # A second customer's checkout reuses both.
    lifecycle.subscribe(
        user=UserFactory(), plan="pro", interval="month", discount_code="partner-acme", **urls
    )
    assert len(stripe_double.calls("POST", "/v1/promotion_codes")) == 1
    assert len(stripe_double.calls("POST", "/v1/coupons")) == 1
    assert _counts_match(promotion) == 2
    assert first.subscription.promotion_code == promotion
    # Staff deactivate it: refused here at once, and at Stripe too.
    assert promotion_codes.deactivate(promotion, actor=None)
    assert (
        stripe_double.get("promotion_code", promotion.stripe_promotion_code_id)["active"] is False
    )


def coupon_call_id(stripe_double):
    [coupon] = stripe_double.objects["coupon"].values()
    return coupon["id"]


def test_an_abandoned_stripe_checkout_gives_the_codes_use_back(stripe_double, customer):
    PlanFactory(slug="pro", name="Pro")
    promotion = _promo("ONCE-ONLY", max_redemptions=1)
    urls = {"success_url": "https://x.test/ok", "cancel_url": "https://x.test/no"}
    first = lifecycle.subscribe(
        user=customer, plan="pro", interval="month", discount_code="ONCE-ONLY", **urls
    ).subscription
    assert _counts_match(promotion) == 1
    second = lifecycle.subscribe(
        user=customer, plan="pro", interval="month", discount_code="ONCE-ONLY", **urls
    ).subscription
    first.refresh_from_db()
    assert first.status == S.INCOMPLETE_EXPIRED
    assert DiscountUsage.objects.get(promotion_code=promotion).subscription == second
    assert _counts_match(promotion) == 1


def test_the_subscribe_page_shows_the_refusal_beside_the_code_field(no_stripe, customer, client):
    PlanFactory(slug="office", name="Office", billing_source="manual")
    _promo("OLD-CAMPAIGN", expires_at=timezone.now() - timedelta(days=1))
    client.force_login(customer)
    page = client.post(
        "/billing/subscribe/office/", {"interval": "month", "discount_code": "old-campaign"}
    )
    assert page.status_code == 400
    html = page.content.decode()
    assert 'id="discount_code-errors"' in html and "This promotion code has expired." in html
    assert 'data-code="promotion_code_expired"' in html and 'aria-invalid="true"' in html
    assert not Subscription.objects.filter(user=customer).exists()


def test_the_cart_page_shows_the_refusal_beside_the_code_field(
    no_stripe, customer, client, product
):
    _promo("FULL", max_redemptions=1, times_redeemed=1)
    client.force_login(customer)
    client.post("/cart/", {"action": "add", "product_id": product.pk, "quantity": "1"})
    page = client.post("/cart/", {"action": "apply_code", "code": "FULL"})
    html = page.content.decode()
    assert 'id="code-errors"' in html and "used the maximum number of times" in html
    assert Cart.objects.get(user=customer).promotion_code_id is None


def test_an_orders_invoice_names_the_promotion_code(no_stripe, customer, client, product):
    _promo("SPRING25")
    cart_service.add_item(user=customer, product_id=product.pk)
    cart_service.apply_code(user=customer, code="SPRING25")
    order = checkout.checkout(user=customer, method="manual").order
    client.force_login(customer)
    html = client.get(f"/orders/{order.number}/invoice/").content.decode()
    assert "Discount SPRING25" in html and "−$4.75" in html


def test_a_stripe_invoice_names_the_promotion_code_its_discount_came_from(
    stripe_double, customer, client
):
    PlanFactory(slug="pro", name="Pro")
    _promo("PARTNER-ACME")
    subscription = lifecycle.subscribe(
        user=customer,
        plan="pro",
        interval="month",
        discount_code="PARTNER-ACME",
        success_url="https://x.test/ok",
        cancel_url="https://x.test/no",
    ).subscription
    invoice = Invoice.objects.create(
        number=next_number("INV"),
        user=customer,
        subscription=subscription,
        status="PAID",
        billing_source="stripe",
        currency="usd",
        subtotal=1000,
        discount_amount=250,
        total=750,
        amount_paid=750,
        amount_due=0,
        billing_reason="subscription_cycle",
    )
    client.force_login(customer)
    html = client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert "Discount PARTNER-ACME" in html
