"""Discount codes: look-up, every validity rule with its own refusal, and redemption that
holds its limits under concurrent checkouts.

A code applies to an order or to a subscription's first invoice; every use of either kind is
one DiscountUsage row and one step of ``uses_count``, so the limits (total uses, uses per
customer, first-time customers only, dates) hold across both, and the count the staff see
equals the rows."""

from datetime import datetime

from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from billing import errors
from billing.models import (
    Discount,
    DiscountType,
    DiscountUsage,
    Invoice,
    InvoiceStatus,
    Order,
    OrderStatus,
    PromotionCode,
    Subscription,
)
from billing.pricing import QuoteLine, eligible_lines
from billing.services import promotion_codes

PAID_STATUSES = (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


def find_discount(code: str) -> Discount:
    """The coupon a typed code names: its own code or one of its promotion codes."""
    return promotion_codes.resolve(code).discount


def find_code(code: str) -> promotion_codes.Resolved:
    """The coupon a typed code names, and the promotion code when it was one."""
    return promotion_codes.resolve(code)


def validate_discount(
    discount: Discount,
    *,
    user: User,
    lines: list[QuoteLine],
    currency: str,
    now: datetime | None = None,
    promotion: PromotionCode | None = None,
) -> None:
    """Raise the DiscountError that explains why ``discount`` (typed as ``promotion``, when
    it was a promotion code) cannot apply to these lines: the promotion code's own limits
    first, then the coupon's.

    Reads usage counts without a lock: checkout repeats the check under the Discount row
    lock before it redeems, so this is advisory for the cart and authoritative at checkout.
    """
    now = now or timezone.now()
    if promotion is not None:
        promotion_codes.check(
            promotion,
            user=user,
            amount=sum(line.line_total for line in lines),
            currency=currency,
            now=now,
            returning=promotion.first_time_only and is_returning_customer(user=user),
        )
    if not discount.active:
        raise errors.DiscountInactive()
    if discount.valid_from and now < discount.valid_from:
        raise errors.DiscountNotStarted()
    if discount.valid_until and now >= discount.valid_until:
        raise errors.DiscountExpired()
    if discount.max_uses is not None and discount.uses_count >= discount.max_uses:
        raise errors.DiscountExhausted()
    if discount.max_uses_per_customer is not None:
        used = DiscountUsage.objects.filter(discount=discount, user=user).count()
        if used >= discount.max_uses_per_customer:
            raise errors.DiscountCustomerLimit()
    if discount.type == DiscountType.FIXED_AMOUNT and discount.currency != currency:
        raise errors.DiscountCurrencyMismatch()
    eligible = eligible_lines(discount, lines)
    if not eligible:
        raise errors.DiscountNotApplicable()
    if sum(line.line_total for line in lines) < discount.minimum_amount:
        raise errors.DiscountMinimumNotMet(minimum_amount=discount.minimum_amount)
    if discount.first_time_only and is_returning_customer(user=user, discount=discount):
        raise errors.DiscountFirstOrderOnly()


def is_returning_customer(*, user: User, discount: Discount | None = None) -> bool:
    """Whether ``user`` has bought before: a paid order, a paid invoice (a subscription's),
    or a use of ``discount`` already (a first-time code is used once, even on an order not
    paid yet)."""
    if Order.objects.filter(user=user, status__in=PAID_STATUSES).exists():
        return True
    if Invoice.objects.filter(user=user, status=InvoiceStatus.PAID, total__gt=0).exists():
        return True
    return (
        discount is not None and DiscountUsage.objects.filter(discount=discount, user=user).exists()
    )


def lock_and_validate(
    *,
    discount_id: int,
    user: User,
    lines: list[QuoteLine],
    currency: str,
    promotion_id: int | None = None,
) -> Discount:
    """Inside checkout's transaction: lock the Discount row (then the promotion code's, when
    the code typed was one), then validate with fresh counts.

    The row lock serialises every checkout using this coupon, whichever of its codes was
    typed, so the per-customer counts and first-order checks cannot race either.
    """
    discount = Discount.objects.select_for_update().get(pk=discount_id)
    promotion = promotion_codes.lock(promotion_id) if promotion_id else None
    if promotion is not None and promotion.discount_id != discount.pk:
        raise errors.DiscountNotFound(field="code")
    validate_discount(discount, user=user, lines=lines, currency=currency, promotion=promotion)
    return discount


def redeem(
    *,
    discount: Discount,
    user: User,
    amount_saved: int,
    order: Order | None = None,
    subscription: Subscription | None = None,
    currency: str = "",
    promotion: PromotionCode | None = None,
) -> DiscountUsage:
    """Count one use (a conditional UPDATE: never past max_uses; the promotion code's too,
    when one was typed) and record it for the order or the subscription.

    Must run inside the transaction that holds the Discount row lock from lock_and_validate.
    """
    updated = Discount.objects.filter(
        Q(max_uses__isnull=True) | Q(uses_count__lt=F("max_uses")),
        pk=discount.pk,
    ).update(uses_count=F("uses_count") + 1, updated_at=timezone.now())
    if not updated:
        raise errors.DiscountExhausted()
    if promotion is not None:
        promotion_codes.count_use(promotion)
    return DiscountUsage.objects.create(
        discount=discount,
        promotion_code=promotion,
        user=user,
        order=order,
        subscription=subscription,
        amount_saved=amount_saved,
        currency=order.currency if order else currency,
    )


def release(*, order: Order | None = None, subscription: Subscription | None = None) -> None:
    """Give the use back when an unpaid order is cancelled or a subscription's checkout is
    abandoned (inside the caller's transaction)."""
    usage = (
        DiscountUsage.objects.filter(order=order).first()
        if order is not None
        else DiscountUsage.objects.filter(subscription=subscription).first()
    )
    if usage is None:
        return
    # The usage row goes first: a second release of the same use (two cancellations racing)
    # waits on its row lock, then finds nothing to delete and gives nothing back twice.
    deleted, _ = DiscountUsage.objects.filter(pk=usage.pk).delete()
    if not deleted:
        return
    Discount.objects.filter(pk=usage.discount_id, uses_count__gt=0).update(
        uses_count=F("uses_count") - 1, updated_at=timezone.now()
    )
    if usage.promotion_code_id:
        promotion_codes.give_back(usage.promotion_code_id)
