"""Changing a subscription's plan or interval: preview, then apply. Stripe-billed
subscriptions change through Stripe's own proration; manual ones by our calculation by the
second (``proration``)."""

from __future__ import annotations

from accounts.models import User
from billing import errors
from billing.models import Subscription
from billing.services.subscriptions.backends import backend_for
from billing.services.subscriptions.lifecycle import change_blocker, plan_and_price
from billing.services.subscriptions.state import ChangePreview, S
from catalog.models import Plan


def change_plan(
    *,
    subscription: Subscription,
    plan: Plan | str,
    interval: str,
    preview: bool,
    actor: User | None,
    proration_date: int | None = None,
) -> ChangePreview:
    """Preview (``preview=True``, nothing changes) or apply a plan/interval change.

    Stripe: Stripe's invoice preview with prorations, then the subscription item's price is
    replaced with ``proration_behavior=always_invoice`` at the same proration date, so the
    customer pays what was previewed. Manual: our own calculation by the second (see
    ``proration.manual_proration``). Raises SubscriptionNotChangeable, PlanNotFound,
    PlanNotAvailable, PlanChangeInvalid.
    """
    if subscription.status not in (S.ACTIVE, S.TRIALING):
        raise errors.SubscriptionNotChangeable()
    new_plan, new_price = plan_and_price(plan, interval)
    if new_price.pk == subscription.price_id:
        raise errors.PlanChangeInvalid("You are already on this plan and interval.")
    blocker = change_blocker(subscription, new_plan, new_price)
    if blocker:
        raise errors.PlanChangeInvalid(blocker)
    return backend_for(subscription).change_plan(
        subscription,
        new_plan,
        new_price,
        interval,
        preview=preview,
        actor=actor,
        proration_date=proration_date,
    )
