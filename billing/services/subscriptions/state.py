"""The names every subscription module shares: statuses, intervals, credit sources, the
customer's words for each status, and the small helpers all of them use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts.models import User
from billing.models import Subscription, SubscriptionStatus
from billing.services.timeline import Source
from catalog.models import Plan, Price
from core import audit, outbox
from core.models import AuditAction
from credits.services import grant_credits

S = SubscriptionStatus
TERMINAL = (S.CANCELED, S.INCOMPLETE_EXPIRED)
INTERVALS = ("month", "year")
CREDIT_SOURCE_PLAN = "PLAN"
CREDIT_SOURCE_TRIAL = "TRIAL"
TRIAL_EXTENSION_MAX_DAYS = 90

STATUS_WORDS: dict[str, str] = {
    S.TRIALING: "Your free trial started.",
    S.ACTIVE: "Your subscription is active.",
    S.PAST_DUE: "Your last payment failed; please update your payment method.",
    S.UNPAID: "Your subscription is unpaid: payment retries have ended.",
    S.CANCELED: "Your subscription has ended.",
    S.INCOMPLETE: "Your subscription is waiting for its first payment.",
    S.INCOMPLETE_EXPIRED: "The first payment was never completed; the subscription expired.",
    S.PAUSED: "Your subscription is paused.",
}


def map_status(stripe_status: str | None) -> str:
    value = (stripe_status or "incomplete").upper()
    return value if value in S.values else S.INCOMPLETE


def timestamp(value: int | str | None) -> datetime | None:
    """A Stripe Unix timestamp as an aware datetime (None for none)."""
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def add_interval(moment: datetime, interval: str | None, count: int = 1) -> datetime:
    """``moment`` plus ``count`` intervals (a month when the interval is not set)."""
    later: datetime  # dateutil ships no types: a datetime plus a relativedelta is a datetime
    if interval == "year":
        later = moment + relativedelta(years=count)
        return later
    if interval == "week":
        return moment + timedelta(weeks=count)
    if interval == "day":
        return moment + timedelta(days=count)
    later = moment + relativedelta(months=count)
    return later


def price_of(sub: Subscription) -> Price:
    """The price ``sub`` bills at. A Stripe subscription whose Stripe price is not in our
    catalog has none: AttributeError, as reading a field of the missing price raised."""
    if sub.price is None:
        raise AttributeError(f"Subscription {sub.pk} has no price in the catalog.")
    return sub.price


def action_key(sub: Subscription, action: str) -> str:
    """A fresh idempotency key for one customer or staff action on ``sub``."""
    return f"subscription-{sub.pk}-{action}-{uuid.uuid4().hex}"


def source_for(actor: User | None, sub: Subscription) -> str:
    """Who made a change, for the timeline: the system, the customer or staff."""
    if actor is None:
        return Source.SYSTEM
    return Source.CUSTOMER if actor.pk == sub.user_id else Source.STAFF


def trial_extensible(sub: Subscription, days: int) -> bool:
    return (
        sub.status == S.TRIALING
        and sub.trial_end is not None
        and 1 <= days <= TRIAL_EXTENSION_MAX_DAYS
    )


def email_past_due(sub: Subscription) -> None:
    """Queue the "payment failed" e-mail (billing.tasks.send_payment_failed_notice) with this
    change."""
    outbox.enqueue("billing.tasks.send_payment_failed_notice", sub.pk)


def grant_trial_credits(sub: Subscription) -> None:
    """The plan's trial allowance, once per subscription, expiring when the trial ends."""
    amount = sub.plan.trial_credits
    if not amount or not sub.trial_end or sub.trial_end <= timezone.now():
        return
    grant_credits(
        user=sub.user,
        amount=amount,
        source=CREDIT_SOURCE_TRIAL,
        expires_at=sub.trial_end,
        idempotency_key=f"subscription-{sub.pk}-trial-credits",
        details={"subscription": sub.pk, "plan": sub.plan.slug},
        source_ref=f"subscription-{sub.pk}",
    )


@dataclass
class ChangePreview:
    """A plan change as previewed (``applied`` False) or made."""

    plan: Plan
    price: Price
    interval: str
    currency: str
    amount_due: int
    credit: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)
    proration_date: int | None = None
    applied: bool = False
    subscription: Subscription | None = None
    # The invoice the change issues: subtotal - discount (credits) + tax = amount_due.
    subtotal: int = 0
    discount: int = 0
    tax: int = 0
    voids: str = ""  # the number of the unpaid invoice the change cancels

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.slug,
            "interval": self.interval,
            "currency": self.currency,
            "amount_due": self.amount_due,
            "credit": self.credit,
            "lines": self.lines,
            "subtotal": self.subtotal,
            "discount": self.discount,
            "tax": self.tax,
            "voids_invoice": self.voids,
            "proration_date": self.proration_date,
            "applied": self.applied,
        }


def audit_cancel(
    sub: Subscription, *, actor: User | None, at_period_end: bool, reason: str
) -> None:
    """The audit row of a cancellation, written by either backend inside its transaction."""
    audit.record(
        actor=actor,
        action=AuditAction.STATUS_CHANGE,
        resource=sub,
        operation="subscription_cancel",
        at_period_end=at_period_end,
        reason=reason,
    )


def audit_resume(sub: Subscription, *, actor: User | None) -> None:
    """The audit row of an undone cancellation, written by either backend inside its
    transaction."""
    audit.record(
        actor=actor, action=AuditAction.STATUS_CHANGE, resource=sub, operation="subscription_resume"
    )
