"""Billing's demo data for ``seed_demo`` (registered in billing/apps.py, run by config).

Demo discount codes, a completed order for Alice and an unpaid one for Bob, through the real
cart, checkout and payment services (manual billing), so the demo shows exactly what a
customer's purchase produces; then the demo subscriptions (``seed_billing``).
"""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts.seed_steps import SeedContext
from billing.models import Discount, Order, PromotionCode
from billing.services import cart, checkout, payments
from catalog.models import ProductType
from catalog.selectors import visible_products
from coupons.models import CouponDuration, Duration

DEMO_DISCOUNTS: list[dict[str, Any]] = [
    {
        "code": "WELCOME10",
        "name": "10% off your first order",
        "type": "PERCENTAGE",
        "percent_off": 10,
        "first_time_only": True,
    },
    {
        "code": "SAVE5",
        "name": "$5 off orders of $20 or more",
        "type": "FIXED_AMOUNT",
        "amount_off": 500,
        "currency": "usd",
        "minimum_amount": 2000,
    },
]


def seed_promotion_code() -> None:
    """A spring campaign: the promotion code SPRING25 for a 25 % coupon that lasts three
    months, 100 uses in all, one per customer, open for six months from the first seed."""
    coupon, _ = Discount.objects.get_or_create(
        code="SPRING-CAMPAIGN",
        defaults={"name": "25% off for 3 months", "type": "PERCENTAGE", "percent_off": 25},
    )
    CouponDuration.objects.get_or_create(
        discount=coupon, defaults={"duration": Duration.REPEATING, "duration_in_months": 3}
    )
    if not PromotionCode.objects.filter(code__iexact="SPRING25").exists():
        PromotionCode.objects.create(
            discount=coupon,
            code="SPRING25",
            max_redemptions=100,
            max_per_customer=1,
            expires_at=timezone.now() + timedelta(days=180),
        )


def seed_orders(context: SeedContext) -> None:
    """The demo discount codes and one order each for Alice (paid) and Bob (unpaid)."""
    for spec in DEMO_DISCOUNTS:
        code = spec["code"]
        fields = {k: v for k, v in spec.items() if k != "code"}
        if not Discount.objects.filter(code__iexact=code).exists():
            Discount.objects.create(code=code, **fields)
    seed_promotion_code()

    users = context.users
    admin = users["admin@demo.example"]
    pack = visible_products().filter(type=ProductType.CREDIT_PACK).order_by("id").first()
    digital = visible_products().filter(type=ProductType.DIGITAL_DOWNLOAD).order_by("id").first()
    for email, product, paid in (
        ("alice@demo.example", pack, True),
        ("bob@demo.example", digital, False),
    ):
        user = users[email]
        if product is None or Order.objects.filter(user=user).exists():
            continue
        cart.clear(user=user)
        cart.add_item(user=user, product_id=product.pk, quantity=1)
        result = checkout.checkout(
            user=user, method="manual", notes="Demo order created by seed_demo"
        )
        if paid:
            payments.mark_paid_manually(
                order_id=result.order.pk, actor=admin, reference="DEMO-BANK-TRANSFER"
            )
        context.stdout.write(
            f"  demo order {result.order.number} for {email}"
            f" ({'paid' if paid else 'awaiting bank transfer'})"
        )
