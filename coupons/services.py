"""Which invoices of a subscription its discount applies to, and the Stripe coupon's
duration that says the same to Stripe."""

from dateutil.relativedelta import relativedelta

from coupons.models import CouponDuration, Duration

# Stripe's ``billing_reason`` of a period's invoice: the first one, then one per renewal.
FIRST_PERIOD_REASON = "subscription_create"
PERIOD_REASONS = (FIRST_PERIOD_REASON, "subscription_cycle")


def duration_of(discount) -> tuple[str, int | None]:
    row = CouponDuration.objects.filter(discount=discount).first()
    return (row.duration, row.duration_in_months) if row else (Duration.ONCE, None)


def describe(discount) -> str:
    duration, months = duration_of(discount)
    if duration == Duration.FOREVER:
        return "every invoice"
    if duration == Duration.REPEATING:
        return f"{months} month{'s' if months != 1 else ''}"
    return "first invoice"


def applies(subscription, *, period_start, billing_reason: str) -> bool:
    """Whether the subscription's discount comes off the invoice of the period starting at
    ``period_start``: the first invoice (once), the invoices of periods starting within N
    months of the first invoiced period (repeating), or every invoice (forever)."""
    if not subscription.discount_id:
        return False
    duration, months = duration_of(subscription.discount)
    if duration == Duration.FOREVER:
        return True
    if duration == Duration.ONCE:
        return billing_reason == FIRST_PERIOD_REASON
    # The subscription's invoices (billing's Invoice, reached through its reverse relation).
    first = (subscription.invoices.filter(billing_reason__in=PERIOD_REASONS,
                                          period_start__isnull=False)
             .order_by("period_start").values_list("period_start", flat=True).first())
    start = min(first, period_start) if first else period_start
    return period_start < start + relativedelta(months=months)


def stripe_duration(discount) -> dict:
    """The coupon's ``duration`` (and ``duration_in_months``) for Stripe."""
    duration, months = duration_of(discount)
    if duration == Duration.REPEATING:
        return {"duration": "repeating", "duration_in_months": months}
    return {"duration": str(duration)}
