"""A discount code on a subscription's first payment: checked, counted, given back."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import User
from billing.models import Discount, PromotionCode, Subscription
from billing.pricing import QuoteLine, discount_total
from billing.services import discounts
from billing.services.subscriptions.state import price_of
from catalog.models import Plan, Price


def discount_for(
    *, code: str, user: User, plan: Plan, price: Price
) -> tuple[Discount, PromotionCode | None]:
    """Validate a discount or promotion code for a plan's first payment under the Discount
    row lock (the same rules and counts as an order: one use per code for a first-time
    customer, the per-customer and total limits, and a promotion code's own limits); the
    coupon and the promotion code typed. ``redeem`` then records the use."""
    found = discounts.find_code(code)
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
    discount = discounts.lock_and_validate(
        discount_id=found.discount.pk,
        user=user,
        lines=[line],
        currency=price.currency,
        promotion_id=found.promotion.pk if found.promotion else None,
    )
    promotion = PromotionCode.objects.get(pk=found.promotion.pk) if found.promotion else None
    return discount, promotion


def redeem(subscription: Subscription, discount: Discount) -> None:
    """Count one use of ``discount`` (the code the new ``subscription`` was given, through
    its promotion code when it has one)."""
    price = price_of(subscription)
    amount = price.unit_amount * subscription.quantity
    discounts.redeem(
        discount=discount,
        user=subscription.user,
        subscription=subscription,
        currency=price.currency,
        amount_saved=discount_total(discount, amount),
        promotion=subscription.promotion_code,
    )


def release(subscription: Subscription) -> None:
    """Give the code's use back (a checkout that never completed)."""
    if subscription.discount_id:
        discounts.release(subscription=subscription)
