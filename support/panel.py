"""The billing picture beside a ticket in the staff console: plan and subscription state,
open and failed invoices, last orders, credit balance and the last ledger rows. Reads only,
through the billing and credits apps' own selectors and models."""

from decimal import ROUND_HALF_UP, Decimal

from billing import selectors as billing_selectors
from billing.models import Invoice, InvoiceStatus, Subscription, SubscriptionStatus
from billing.pricing import amount_for
from credits import selectors as credit_selectors

PANEL_ROWS = 5
# Periods per month, to normalise a recurring price to a monthly value (MRR). A year is
# twelve months; a week and a day use the average month (365.25 / 12 days).
_PER_MONTH = {
    "day": Decimal("30.4375"),
    "week": Decimal("30.4375") / 7,
    "month": Decimal(1),
    "year": Decimal(1) / 12,
}


def mrr_contribution(subscription) -> dict | None:
    """What one ACTIVE subscription adds to monthly recurring revenue, in minor units of its
    price's currency (None without a recurring price, or when not ACTIVE: trials and past-due
    subscriptions are not counted as revenue)."""
    price = getattr(subscription, "price", None)
    if (
        subscription is None
        or price is None
        or not price.interval
        or subscription.status != "ACTIVE"
    ):
        return None
    per_period = Decimal(amount_for(price, subscription.quantity))
    monthly = per_period * _PER_MONTH[price.interval] / price.interval_count
    return {
        "amount": int(monthly.quantize(Decimal(1), rounding=ROUND_HALF_UP)),
        "currency": price.currency,
    }


def billing_panel(user) -> dict:
    current = billing_selectors.current_subscription(user=user)
    return {
        "current_subscription": current,
        "plan": current.plan if current else None,
        "mrr": mrr_contribution(current),
        "subscriptions": list(
            Subscription.objects.filter(user=user)
            .select_related("plan")
            .order_by("-created_at")[:3]
        ),
        # What "Extend a trial" offers: every trial of this customer's, not only the last few.
        "trialing_subscriptions": list(
            Subscription.objects.filter(
                user=user, status=SubscriptionStatus.TRIALING, trial_end__isnull=False
            )
            .select_related("plan")
            .order_by("trial_end")
        ),
        "orders": list(billing_selectors.orders_for_user(user=user)[:PANEL_ROWS]),
        "unpaid_invoices": list(
            Invoice.objects.filter(
                user=user, status__in=[InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE]
            ).order_by("-created_at")[:PANEL_ROWS]
        ),
        "credit_balance": credit_selectors.balance_of(user=user),
        "ledger": list(credit_selectors.transactions_for(user=user)[:PANEL_ROWS]),
    }
