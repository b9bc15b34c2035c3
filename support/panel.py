"""The billing picture beside a ticket in the staff console: plan and subscription state,
open and failed invoices, last orders, credit balance and the last ledger rows. Reads only,
through the billing and credits apps' own selectors and models."""

from billing import selectors as billing_selectors
from billing.models import Invoice, InvoiceStatus, Subscription
from credits import selectors as credit_selectors

PANEL_ROWS = 5


def billing_panel(user) -> dict:
    current = billing_selectors.current_subscription(user=user)
    return {
        "current_subscription": current,
        "plan": current.plan if current else None,
        "subscriptions": list(Subscription.objects.filter(user=user)
                              .select_related("plan").order_by("-created_at")[:3]),
        "orders": list(billing_selectors.orders_for_user(user=user)[:PANEL_ROWS]),
        "unpaid_invoices": list(
            Invoice.objects.filter(user=user, status__in=[InvoiceStatus.OPEN,
                                                          InvoiceStatus.UNCOLLECTIBLE])
            .order_by("-created_at")[:PANEL_ROWS]),
        "credit_balance": credit_selectors.balance_of(user=user),
        "ledger": list(credit_selectors.transactions_for(user=user)[:PANEL_ROWS]),
    }
