"""Which backend bills a subscription: the one place that chooses between Stripe and
manual billing. Both backends answer the same calls (``SubscriptionBackend``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from accounts.models import User
from billing.models import BillingSource, Subscription
from billing.services.subscriptions.backend_manual import ManualBackend
from billing.services.subscriptions.backend_stripe import StripeBackend
from billing.services.subscriptions.state import ChangePreview
from catalog.models import Plan, Price


class SubscriptionBackend(Protocol):
    name: str

    def cancel(
        self,
        subscription: Subscription,
        *,
        at_period_end: bool,
        actor: User | None,
        source: str,
        reason: str,
    ) -> Subscription: ...

    def resume(
        self, subscription: Subscription, *, actor: User | None, source: str
    ) -> Subscription: ...

    def extend_trial(
        self, subscription: Subscription, *, days: int, actor: User | None
    ) -> Subscription: ...

    def comp_until(
        self, subscription: Subscription, *, start: datetime, new_end: datetime, actor: User | None
    ) -> Subscription: ...

    def change_plan(
        self,
        sub: Subscription,
        plan: Plan,
        price: Price,
        interval: str,
        *,
        preview: bool,
        actor: User | None,
        proration_date: int | None,
    ) -> ChangePreview: ...


MANUAL = ManualBackend()
STRIPE = StripeBackend()


def backend_for(subscription: Subscription) -> SubscriptionBackend:
    """Stripe for a subscription Stripe bills (it has its Stripe id); manual otherwise."""
    if subscription.billing_source == BillingSource.STRIPE and subscription.stripe_subscription_id:
        return STRIPE
    return MANUAL
