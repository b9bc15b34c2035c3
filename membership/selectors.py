"""One membership status per customer, derived in one place for the API and the pages.

A customer may have several subscription rows over time (an old canceled one, a new trial).
The membership is the one that matters most now, in this order: ACTIVE, TRIALING, PAST_DUE
(payment failed: PAST_DUE or UNPAID at the processor), then CANCELED (the newest ended or
paused one); NONE when the customer never had a subscription that started. ``has_access``
says whether the plan's entitlements apply now (a past-due one keeps them through the
grace period), the same rule the entitlements use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser

from billing.models import Subscription, SubscriptionStatus
from billing.selectors import live_subscriptions_granting_plan

if TYPE_CHECKING:
    from accounts.models import User
    from catalog.models import Plan

ACTIVE, TRIALING, PAST_DUE, CANCELED, NONE = "ACTIVE", "TRIALING", "PAST_DUE", "CANCELED", "NONE"
STATUSES = [ACTIVE, TRIALING, PAST_DUE, CANCELED, NONE]

_MEMBERSHIP_OF: dict[str, str] = {
    SubscriptionStatus.ACTIVE: ACTIVE,
    SubscriptionStatus.TRIALING: TRIALING,
    SubscriptionStatus.PAST_DUE: PAST_DUE,
    SubscriptionStatus.UNPAID: PAST_DUE,
    SubscriptionStatus.CANCELED: CANCELED,
    SubscriptionStatus.INCOMPLETE_EXPIRED: CANCELED,
    SubscriptionStatus.PAUSED: CANCELED,
    # INCOMPLETE: a checkout that never finished is no membership.
}
_RANK = {ACTIVE: 0, TRIALING: 1, PAST_DUE: 2, CANCELED: 3}


@dataclass(frozen=True)
class Membership:
    status: str
    has_access: bool = False
    subscription: Subscription | None = None

    @property
    def plan(self) -> Plan | None:
        return self.subscription.plan if self.subscription else None

    @property
    def period_end(self) -> datetime | None:
        sub = self.subscription
        if sub is None:
            return None
        if self.status == TRIALING and sub.trial_end:
            return sub.trial_end
        return sub.current_period_end

    @property
    def cancel_at_period_end(self) -> bool:
        return bool(self.subscription and self.subscription.cancel_at_period_end)

    @property
    def label(self) -> str:
        return {
            ACTIVE: "Active",
            TRIALING: "Trial",
            PAST_DUE: "Payment overdue",
            CANCELED: "Canceled",
            NONE: "No membership",
        }[self.status]


def membership_of(*, user: User | AnonymousUser | None) -> Membership:
    if user is None or isinstance(user, AnonymousUser) or not user.pk:
        return Membership(NONE)
    candidates = []
    for sub in Subscription.objects.filter(
        user=user, status__in=list(_MEMBERSHIP_OF)
    ).select_related("plan", "price"):
        status = _MEMBERSHIP_OF[sub.status]
        moment = sub.current_period_end or sub.ended_at or sub.canceled_at or sub.created_at
        candidates.append((_RANK[status], -moment.timestamp(), -sub.pk, status, sub))
    if not candidates:
        return Membership(NONE)
    _, _, _, status, sub = min(candidates)
    access = (
        live_subscriptions_granting_plan(user=user).filter(pk=sub.pk).exists()
        if status in (ACTIVE, TRIALING, PAST_DUE)
        else False
    )
    return Membership(status, access, sub)
