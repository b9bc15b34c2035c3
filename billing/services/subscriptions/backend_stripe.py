"""The Stripe backend: a Stripe-billed subscription changes at Stripe first (an API call with
an idempotency key), and our row then follows Stripe's answer."""

from __future__ import annotations

from datetime import datetime, timedelta

import stripe
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import errors
from billing.models import Subscription
from billing.services import timeline
from billing.services.customers import ensure_stripe_customer
from billing.services.subscriptions.state import (
    ChangePreview,
    action_key,
    audit_cancel,
    audit_resume,
    source_for,
)
from billing.services.subscriptions.stripe_adapter import apply_stripe_subscription, stripe_call
from billing.services.timeline import EventType, Source
from billing.stripe import client as stripe_client
from billing.stripe.sync import ensure_stripe_price
from catalog.models import Plan, Price
from core import audit
from core.models import AuditAction


def _follow(remote: dict, *, source: str, actor: User | None) -> Subscription:
    sub = apply_stripe_subscription(remote, state_at=timezone.now(), source=source, actor=actor)
    # ``remote`` is Stripe's answer about our own row's Stripe id, so the row is found.
    assert sub is not None
    return sub


class StripeBackend:
    name = "stripe"

    def cancel(
        self,
        subscription: Subscription,
        *,
        at_period_end: bool,
        actor: User | None,
        source: str,
        reason: str,
    ) -> Subscription:
        if at_period_end:
            remote = stripe_call(
                stripe_client.update_subscription,
                subscription.stripe_subscription_id,
                cancel_at_period_end=True,
                idempotency_key=action_key(subscription, "cancel-end"),
            )
        else:
            remote = stripe_call(
                stripe_client.cancel_subscription,
                subscription.stripe_subscription_id,
                idempotency_key=action_key(subscription, "cancel-now"),
            )
        with transaction.atomic():
            sub = _follow(remote, source=source, actor=actor)
            audit_cancel(sub, actor=actor, at_period_end=at_period_end, reason=reason)
        return sub

    def resume(
        self, subscription: Subscription, *, actor: User | None, source: str
    ) -> Subscription:
        remote = stripe_call(
            stripe_client.update_subscription,
            subscription.stripe_subscription_id,
            cancel_at_period_end=False,
            idempotency_key=action_key(subscription, "resume"),
        )
        with transaction.atomic():
            sub = _follow(remote, source=source, actor=actor)
            audit_resume(sub, actor=actor)
        return sub

    def extend_trial(
        self, subscription: Subscription, *, days: int, actor: User | None
    ) -> Subscription:
        """Stripe is asked for the new absolute trial end, with an idempotency key derived
        from the current end and the days, so a retried call cannot extend twice."""
        old = subscription.trial_end
        if old is None:  # the service checked; nothing to extend without a trial end
            raise errors.TrialExtensionInvalid()
        new_end = old + timedelta(days=days)
        key = f"subscription-{subscription.pk}-extend-trial-{int(old.timestamp())}-{days}"
        remote = stripe_call(
            stripe_client.update_subscription,
            subscription.stripe_subscription_id,
            trial_end=int(new_end.timestamp()),
            proration_behavior="none",
            idempotency_key=key,
        )
        with transaction.atomic():
            sub = _follow(remote, source=Source.STAFF, actor=actor)
            timeline.add(
                sub,
                EventType.TRIAL_EXTENDED,
                f"Your trial was extended until {new_end:%d %B %Y}.",
                source=Source.STAFF,
                actor=actor,
                payload={"days": days},
            )
            audit.record(
                actor=actor,
                action=AuditAction.UPDATE,
                resource=sub,
                old={"trial_end": old.isoformat()},
                new={"trial_end": new_end.isoformat()},
                operation="extend_trial",
                days=days,
            )
        return sub

    def comp_until(
        self, subscription: Subscription, *, start: datetime, new_end: datetime, actor: User | None
    ) -> Subscription:
        # Stripe's documented way to give free time: a trial until the new date.
        remote = stripe_call(
            stripe_client.update_subscription,
            subscription.stripe_subscription_id,
            trial_end=int(new_end.timestamp()),
            proration_behavior="none",
            idempotency_key=f"subscription-{subscription.pk}-comp-{int(start.timestamp())}",
        )
        with transaction.atomic():
            return _follow(remote, source=Source.STAFF, actor=actor)

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
    ) -> ChangePreview:
        """Stripe's invoice preview with prorations, then the subscription item's price is
        replaced with ``proration_behavior=always_invoice`` at the same proration date, so the
        customer pays what was previewed."""
        try:
            price_id = ensure_stripe_price(price)
            customer = ensure_stripe_customer(user=sub.user)
        except stripe.StripeError as exc:
            raise errors.PaymentProviderError() from exc
        remote = stripe_call(stripe_client.retrieve_subscription, sub.stripe_subscription_id)
        items = [{"id": remote["items"]["data"][0]["id"], "price": price_id}]
        when = int(proration_date or timezone.now().timestamp())
        upcoming = stripe_call(
            stripe_client.preview_invoice,
            customer=customer,
            subscription=sub.stripe_subscription_id,
            items=items,
            proration_date=when,
        )
        result = _change_preview(
            upcoming, sub=sub, plan=plan, price=price, interval=interval, when=when
        )
        if preview:
            return result
        remote = stripe_call(
            stripe_client.update_subscription,
            sub.stripe_subscription_id,
            items=items,
            proration_behavior="always_invoice",
            proration_date=when,
            metadata={"plan_id": str(plan.pk)},
            idempotency_key=action_key(sub, "change-plan"),
        )
        with transaction.atomic():
            result.subscription = _follow(remote, source=source_for(actor, sub), actor=actor)
            audit.record(
                actor=actor,
                action=AuditAction.UPDATE,
                resource=sub,
                old={"plan": sub.plan_id, "price": sub.price_id},
                new={"plan": plan.pk, "price": price.pk},
                operation="plan_change",
            )
        result.applied = True
        return result


def _change_preview(
    upcoming: dict, *, sub: Subscription, plan: Plan, price: Price, interval: str, when: int
) -> ChangePreview:
    """What the customer pays for the change, read from Stripe's invoice preview."""
    lines = [
        {"description": line.get("description") or "", "amount": int(line["amount"])}
        for line in (upcoming.get("lines") or {}).get("data", [])
    ]
    return ChangePreview(
        plan=plan,
        price=price,
        interval=interval,
        currency=upcoming.get("currency") or price.currency,
        amount_due=int(upcoming.get("amount_due") or 0),
        credit=max(0, -int(upcoming.get("total") or 0)),
        lines=lines,
        proration_date=when,
        subscription=sub,
    )
