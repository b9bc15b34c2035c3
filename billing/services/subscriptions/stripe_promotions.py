"""A promotion code at Stripe: one Stripe coupon per discount (with its duration), one Stripe
promotion code per promotion code with the same limits, made when a Stripe checkout first
uses it; our own count stays the authority (it was taken before the checkout opened)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from billing.models import Discount, PromotionCode
from billing.stripe import client as stripe_client
from coupons.services import stripe_duration


def coupon_params(discount: Discount) -> dict[str, Any]:
    """The Stripe coupon that says what ``discount`` says: how much off, for how long."""
    params: dict[str, Any] = {**stripe_duration(discount), "name": discount.code[:40]}
    if discount.type == "PERCENTAGE":
        params["percent_off"] = str(discount.percent_off)
    else:
        params["amount_off"] = discount.amount_off
        params["currency"] = discount.currency
    return params


def ensure_coupon(discount: Discount) -> str:
    """The Stripe coupon every promotion code of ``discount`` points at (made once)."""
    if discount.stripe_coupon_id:
        return discount.stripe_coupon_id
    coupon = stripe_client.create_coupon(
        **coupon_params(discount),
        metadata={"discount_id": str(discount.pk)},
        idempotency_key=f"coupon-discount-{discount.pk}",
    )
    coupon_id: str = coupon["id"]
    Discount.objects.filter(pk=discount.pk, stripe_coupon_id="").update(
        stripe_coupon_id=coupon_id, updated_at=timezone.now()
    )
    discount.stripe_coupon_id = coupon_id
    return coupon_id


def promotion_code_params(promotion: PromotionCode, coupon_id: str) -> dict[str, Any]:
    """``POST /v1/promotion_codes``: the code, its coupon and the limits Stripe can hold."""
    params: dict[str, Any] = {
        "promotion": {"type": "coupon", "coupon": coupon_id},
        "code": promotion.code,
        "metadata": {"promotion_code_id": str(promotion.pk)},
    }
    if promotion.max_redemptions is not None:
        params["max_redemptions"] = promotion.max_redemptions
    if promotion.expires_at is not None:
        params["expires_at"] = int(promotion.expires_at.timestamp())
    restrictions: dict[str, Any] = {}
    if promotion.first_time_only:
        restrictions["first_time_transaction"] = True
    if promotion.minimum_amount:
        restrictions["minimum_amount"] = promotion.minimum_amount
        restrictions["minimum_amount_currency"] = promotion.minimum_amount_currency
    if restrictions:
        params["restrictions"] = restrictions
    return params


def ensure_promotion_code(promotion: PromotionCode) -> str:
    """The Stripe promotion code for ``promotion`` (made once, with its coupon)."""
    if promotion.stripe_promotion_code_id:
        return promotion.stripe_promotion_code_id
    coupon_id = ensure_coupon(promotion.discount)
    created = stripe_client.create_promotion_code(
        **promotion_code_params(promotion, coupon_id),
        idempotency_key=f"promotion-code-{promotion.pk}",
    )
    promotion_id: str = created["id"]
    PromotionCode.objects.filter(pk=promotion.pk, stripe_promotion_code_id="").update(
        stripe_promotion_code_id=promotion_id, updated_at=timezone.now()
    )
    promotion.stripe_promotion_code_id = promotion_id
    return promotion_id


def deactivate_at_stripe(promotion: PromotionCode) -> None:
    """A promotion code staff deactivated stops at Stripe too (when it was made there)."""
    if promotion.stripe_promotion_code_id and stripe_client.is_configured():
        stripe_client.update_promotion_code(promotion.stripe_promotion_code_id, active=False)
