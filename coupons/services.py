"""A discount's duration (once, N months, forever): how it reads, and the Stripe coupon's
duration that says the same to Stripe. Which invoices it comes off is billing's
(``billing.services.invoices.discount_applies``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coupons.models import CouponDuration, Duration

if TYPE_CHECKING:
    from billing.models import Discount

# Stripe's ``billing_reason`` of a period's invoice: the first one, then one per renewal.
FIRST_PERIOD_REASON = "subscription_create"
PERIOD_REASONS = (FIRST_PERIOD_REASON, "subscription_cycle")


def duration_of(discount: Discount | None) -> tuple[str, int | None]:
    row = CouponDuration.objects.filter(discount=discount).first()
    return (row.duration, row.duration_in_months) if row else (Duration.ONCE, None)


def describe(discount: Discount | None) -> str:
    duration, months = duration_of(discount)
    if duration == Duration.FOREVER:
        return "every invoice"
    if duration == Duration.REPEATING:
        return f"{months} month{'s' if months != 1 else ''}"
    return "first invoice"


def stripe_duration(discount: Discount | None) -> dict[str, str | int | None]:
    """The coupon's ``duration`` (and ``duration_in_months``) for Stripe."""
    duration, months = duration_of(discount)
    if duration == Duration.REPEATING:
        return {"duration": "repeating", "duration_in_months": months}
    return {"duration": str(duration)}
