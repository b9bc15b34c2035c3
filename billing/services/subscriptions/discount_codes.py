"""A discount code on a subscription's first payment: checked, counted, given back."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import User
from billing.models import Discount, Subscription
from billing.pricing import QuoteLine, discount_total
from billing.services import discounts
from billing.services.subscriptions.state import price_of
from catalog.models import Plan, Price


def discount_for(*, code: str, user: User, plan: Plan, price: Price) -> Discount:
    """Validate a discount code for a plan's first payment under the Discount row lock (the
    same rules and counts as an order: one use per code for a first-time customer, the
    per-customer and total limits); ``redeem`` then records the use."""
    discount = discounts.find_discount(code)
    line = QuoteLine(
        product=plan.product,
        quantity=1,
        unit_amount=price.unit_amount,
        line_total=price.unit_amount,
        currency=price.currency,
        tax_rate=Decimal(plan.product.tax_rate),
        price=price,
        description=plan.name,
    )
    return discounts.lock_and_validate(
        discount_id=discount.pk, user=user, lines=[line], currency=price.currency
    )


def redeem(subscription: Subscription, discount: Discount) -> None:
    """Count one use of ``discount`` (the code the new ``subscription`` was given)."""
    price = price_of(subscription)
    amount = price.unit_amount * subscription.quantity
    discounts.redeem(
        discount=discount,
        user=subscription.user,
        subscription=subscription,
        currency=price.currency,
        amount_saved=discount_total(discount, amount),
    )


def release(subscription: Subscription) -> None:
    """Give the code's use back (a checkout that never completed)."""
    if subscription.discount_id:
        discounts.release(subscription=subscription)
