"""Stripe orders and their Checkout sessions for the webhook tests."""

import time

from billing.factories import OrderFactory, OrderItemFactory
from billing.models import BillingSource
from billing.tests.stripe_objects import example


def stripe_order(user=None, total=1900):
    """A Stripe-billed order of one item, its PaymentIntent and Checkout session ids unique."""
    order = OrderFactory(
        billing_source=BillingSource.STRIPE,
        subtotal=total,
        stripe_payment_intent_id=f"pi_{time.time_ns()}",
        stripe_checkout_session_id=f"cs_{time.time_ns()}",
        **({"user": user} if user else {}),
    )
    OrderItemFactory(order=order, unit_amount=total)
    return order


def session_completed(order, **changes):
    """The paid, complete Checkout session of ``order`` (with ``changes``)."""
    session = example(
        "checkout.session",
        id=order.stripe_checkout_session_id,
        mode="payment",
        payment_status="paid",
        status="complete",
        amount_total=order.total,
        currency=order.currency,
        payment_intent=order.stripe_payment_intent_id,
        metadata={"order_id": str(order.pk)},
    )
    session.update(changes)
    return session
