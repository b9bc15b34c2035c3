"""The Stripe double answers like Stripe where it matters to us: unknown parameters are
refused, a payment-mode Checkout Session has no PaymentIntent until paid, and it speaks an
API version (older versions get the older object shapes); promotion codes take their coupon
under ``promotion`` and an active code once."""

import pytest
import stripe

from billing.stripe import client as stripe_client
from billing.stripe.sync import ensure_stripe_price
from billing.tests.stripe_objects import FIXTURES
from billing.tests.subscription_helpers import stripe_subscription
from catalog.factories import PlanFactory


def test_an_unknown_or_misspelt_parameter_is_refused_like_stripe(stripe_double):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.client().checkout.Session.create(
            mode="payment",
            success_url="https://example.com/ok",
            line_items=[{"quantity": 1, "price_dataa": {"currency": "usd"}}],
        )
    assert refused.value.http_status == 400
    assert refused.value.code == "parameter_unknown"
    assert refused.value.param == "line_items[0][price_dataa]"
    assert not stripe_double.objects.get("checkout.session")

    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.client().Refund.create(payment_intent="pi_x", amount=100, reson="duplicate")
    assert refused.value.param == "reson"


def test_a_payment_mode_session_gets_its_payment_intent_only_when_paid(stripe_double):
    session = stripe_client.create_checkout_session(
        params={
            "mode": "payment",
            "success_url": "https://example.com/ok",
            "line_items": [
                {
                    "quantity": 2,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 500,
                        "product_data": {"name": "Widget"},
                    },
                }
            ],
            "payment_intent_data": {"metadata": {"order_id": "7"}},
        },
        idempotency_key="cs-1",
    )
    assert session["payment_intent"] is None and session["payment_status"] == "unpaid"
    assert not stripe_double.objects.get("payment_intent")

    paid, intent, charge = stripe_double.pay_session(session["id"])
    assert paid["payment_intent"] == intent["id"] and paid["payment_status"] == "paid"
    assert intent["metadata"] == {"order_id": "7"} and intent["latest_charge"] == charge["id"]
    assert intent["amount_received"] == 1000


@pytest.mark.django_db
def test_the_double_answers_in_the_requested_api_version(stripe_double):

    price_id = ensure_stripe_price(PlanFactory(slug="v").monthly_price)
    stripe_subscription(
        stripe_double,
        sub_id="sub_ver",
        customer="cus_v",
        price_id=price_id,
        start=1_700_000_000,
        end=1_702_592_000,
    )

    current = stripe_client.retrieve_subscription("sub_ver")
    assert "current_period_end" not in current
    assert current["items"]["data"][0]["current_period_end"] == 1_702_592_000

    old = (
        stripe_client.client()
        .Subscription.retrieve("sub_ver", stripe_version="2025-02-24.acacia")
        .to_dict()
    )
    assert old["current_period_end"] == 1_702_592_000
    assert "current_period_end" not in old["items"]["data"][0]
    assert stripe_double.requests[-1].headers["Stripe-Version"] == "2025-02-24.acacia"


def test_promotion_codes_are_answered_like_stripe(stripe_double):
    coupon = stripe_client.create_coupon(
        duration="once", percent_off="25", idempotency_key="coupon-double-test"
    )
    # Since the 2025 API a promotion code names its coupon under ``promotion``.
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.create_promotion_code(
            coupon=coupon["id"], code="SPRING25", idempotency_key="promo-old-shape"
        )
    assert refused.value.param == "coupon"
    created = stripe_client.create_promotion_code(
        promotion={"type": "coupon", "coupon": coupon["id"]},
        code="SPRING25",
        max_redemptions=3,
        restrictions={"first_time_transaction": True},
        idempotency_key="promo-double-test",
    )
    assert set(created) == set(FIXTURES["promotion_code"])
    assert created["promotion"] == {"type": "coupon", "coupon": coupon["id"]}
    assert (created["max_redemptions"], created["restrictions"]["first_time_transaction"]) == (
        3,
        True,
    )
    with pytest.raises(stripe.InvalidRequestError) as taken:
        stripe_client.create_promotion_code(
            promotion={"type": "coupon", "coupon": coupon["id"]},
            code="spring25",
            idempotency_key="promo-double-taken",
        )
    assert taken.value.code == "resource_already_exists"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.create_promotion_code(
            promotion={"type": "coupon", "coupon": "co_missing"},
            code="OTHER",
            idempotency_key="promo-double-missing",
        )
    assert missing.value.code == "resource_missing"
    stripe_client.update_promotion_code(created["id"], active=False)
    assert stripe_double.get("promotion_code", created["id"])["active"] is False
