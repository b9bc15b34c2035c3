"""Promotion codes: several customer-facing codes for one discount (the coupon), each with
its own campaign limits, checked on top of the coupon's own.

A typed code is first a discount's own code, else a promotion code (``resolve``). The
promotion's limits (active, start, expiry, total uses, uses per customer, minimum amount,
first-time customers) are checked by ``check`` wherever a coupon's are
(``billing.services.discounts.validate_discount``), and counted by ``count_use`` in the
transaction that holds the coupon's row lock, so the coupon's lock serialises every code that
maps to it and the promotion's own conditional UPDATE can never pass its total."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import stripe
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import authority
from accounts.models import User
from billing import errors
from billing.models import Discount, DiscountUsage, PromotionCode
from billing.services.subscriptions import stripe_promotions
from core import audit
from core.models import AuditAction
from core.money import format_money

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolved:
    """What a typed code stands for: the coupon, and the promotion code when it was one."""

    discount: Discount
    promotion: PromotionCode | None = None


def resolve(code: str) -> Resolved:
    """The coupon (and promotion code) ``code`` names, case-insensitively. A coupon that has
    promotion codes is redeemed only through them, so its campaigns' limits cannot be
    side-stepped by typing the coupon's own code. Raises DiscountNotFound."""
    code = (code or "").strip()
    if code:
        discount = Discount.objects.filter(code__iexact=code).first()
        if discount is not None and not discount.promotion_codes.exists():
            return Resolved(discount=discount)
        promotion = (
            PromotionCode.objects.filter(code__iexact=code).select_related("discount").first()
        )
        if promotion is not None:
            return Resolved(discount=promotion.discount, promotion=promotion)
    raise errors.DiscountNotFound(field="code")


def check(
    promotion: PromotionCode,
    *,
    user: User,
    amount: int,
    currency: str,
    now: datetime,
    returning: bool,
) -> None:
    """Raise the promotion-code error that explains why ``promotion`` cannot apply to a
    purchase of ``amount`` (minor units of ``currency``, before discount and tax) by ``user``.
    ``returning``: whether ``user`` has paid for anything before (read only for a first-time
    code)."""
    if not promotion.active:
        raise errors.PromotionCodeInactive()
    if promotion.starts_at and now < promotion.starts_at:
        raise errors.PromotionCodeNotStarted()
    if promotion.expires_at and now >= promotion.expires_at:
        raise errors.PromotionCodeExpired()
    if (
        promotion.max_redemptions is not None
        and promotion.times_redeemed >= promotion.max_redemptions
    ):
        raise errors.PromotionCodeExhausted()
    if promotion.max_per_customer is not None:
        used = DiscountUsage.objects.filter(promotion_code=promotion, user=user).count()
        if used >= promotion.max_per_customer:
            raise errors.PromotionCodeCustomerLimit()
    if promotion.minimum_amount:
        minimum = format_money(promotion.minimum_amount, promotion.minimum_amount_currency)
        if currency != promotion.minimum_amount_currency:
            raise errors.PromotionCodeCurrencyMismatch(
                f"This promotion code is for purchases in "
                f"{promotion.minimum_amount_currency.upper()} (at least {minimum}).",
                field="code",
            )
        if amount < promotion.minimum_amount:
            raise errors.PromotionCodeMinimumNotMet(
                f"This promotion code needs a purchase of at least {minimum} "
                f"(yours is {format_money(amount, currency)}).",
                field="code",
                minimum_amount=promotion.minimum_amount,
                currency=promotion.minimum_amount_currency,
            )
    if promotion.first_time_only and (
        returning or DiscountUsage.objects.filter(promotion_code=promotion, user=user).exists()
    ):
        raise errors.PromotionCodeFirstTimeOnly()


def lock(promotion_id: int) -> PromotionCode:
    """The promotion code's row, locked (after the coupon's: always in that order)."""
    promotion: PromotionCode = (
        PromotionCode.objects.select_for_update().select_related("discount").get(pk=promotion_id)
    )
    return promotion


def count_use(promotion: PromotionCode) -> None:
    """One more use (a conditional UPDATE: never past ``max_redemptions``). Raises
    PromotionCodeExhausted, so the caller's transaction writes nothing."""
    updated = PromotionCode.objects.filter(
        Q(max_redemptions__isnull=True) | Q(times_redeemed__lt=F("max_redemptions")),
        pk=promotion.pk,
    ).update(times_redeemed=F("times_redeemed") + 1, updated_at=timezone.now())
    if not updated:
        raise errors.PromotionCodeExhausted()


def give_back(promotion_id: int) -> None:
    """A use returned (an unpaid order cancelled, a checkout abandoned)."""
    PromotionCode.objects.filter(pk=promotion_id, times_redeemed__gt=0).update(
        times_redeemed=F("times_redeemed") - 1, updated_at=timezone.now()
    )


def deactivate(promotion: PromotionCode, *, actor: User | None) -> bool:
    """Staff stop a promotion code (the coupon and its other codes go on), here and at
    Stripe when it was made there. Whether it was active. Raises NotAuthorized (staff
    policy)."""
    authority.require(actor, "billing.promotion_code.deactivate")
    with transaction.atomic():
        changed = PromotionCode.objects.filter(pk=promotion.pk, active=True).update(
            active=False, updated_at=timezone.now()
        )
        if changed:
            audit.record(
                actor=actor,
                action=AuditAction.UPDATE,
                resource=promotion,
                old={"active": True},
                new={"active": False},
            )
    if changed:
        try:
            stripe_promotions.deactivate_at_stripe(promotion)
        except stripe.StripeError as exc:  # ours is the authority: Stripe's copy follows
            logger.warning("Stripe kept promotion code %s active: %s", promotion.pk, exc)
    return bool(changed)
