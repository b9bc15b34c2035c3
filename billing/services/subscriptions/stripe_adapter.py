"""Stripe's side of a subscription: opening its Checkout, its coupon, the billing portal, and
making our row follow Stripe's subscription object.

Our Subscription row is the business record. For Stripe-billed subscriptions it follows
Stripe: every Stripe object (from a webhook or an API answer) is applied through
``apply_stripe_subscription`` with the time of that state, and a state older than the one
stored is ignored, so repeated or out-of-order events never move a subscription backwards.
Periods come from the subscription items (Stripe's API since 2025-03-31).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import errors
from billing.models import BillingSource, CustomerBillingProfile, Discount, Subscription
from billing.services import stripe_tax, timeline
from billing.services.customers import ensure_stripe_customer
from billing.services.subscriptions import discount_codes, stripe_promotions
from billing.services.subscriptions.state import (
    STATUS_WORDS,
    TERMINAL,
    S,
    email_past_due,
    grant_trial_credits,
    map_status,
    timestamp,
)
from billing.services.timeline import EventType, Source
from billing.stripe import client as stripe_client
from billing.stripe.sync import ensure_stripe_price
from catalog.models import Plan, Price
from core.ids import parse_id

logger = logging.getLogger(__name__)


def stripe_call(fn: Callable[..., dict], *args: object, **kwargs: object) -> dict:
    """``fn(*args, **kwargs)`` with Stripe's failures as our errors (StripeNotConfigured,
    PaymentProviderError)."""
    try:
        return fn(*args, **kwargs)
    except stripe_client.StripeUnavailable as exc:
        raise errors.StripeNotConfigured() from exc
    except stripe.StripeError as exc:
        raise errors.PaymentProviderError() from exc


def _checkout_params(
    subscription: Subscription, *, trial_days: int, success_url: str, cancel_url: str
) -> dict:
    metadata = {
        "subscription_id": str(subscription.pk),
        "user_id": str(subscription.user_id),
        "plan_id": str(subscription.plan_id),
    }
    customer_id = ensure_stripe_customer(user=subscription.user)
    if subscription.price is None:  # subscribe() always sets it; a row without one is broken
        raise ValueError(f"Subscription {subscription.pk} has no price to check out")
    price_id = ensure_stripe_price(subscription.price)
    sub_data: dict[str, object] = {"metadata": metadata}
    if trial_days:
        sub_data["trial_period_days"] = trial_days
    params: dict[str, object] = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": f"subscription-{subscription.pk}",
        "line_items": [{"price": price_id, "quantity": subscription.quantity}],
        "subscription_data": sub_data,
        "metadata": metadata,
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    discount = subscription.discount
    if subscription.promotion_code is not None:
        params["discounts"] = [
            {"promotion_code": stripe_promotions.ensure_promotion_code(subscription.promotion_code)}
        ]
    elif discount is not None:
        params["discounts"] = [{"coupon": _stripe_coupon(subscription, discount)}]
    if getattr(settings, "STRIPE_AUTOMATIC_TAX", False):
        # Stripe Tax computes the same rule from the customer's address and tax id.
        params["automatic_tax"] = {"enabled": True}
        params["customer_update"] = {"address": "auto"}
        params["tax_id_collection"] = {"enabled": True}
    else:
        # Our own rule's rate, as a Stripe TaxRate the subscription carries (none for a
        # reverse charge or a zero rate).
        tax_rates = stripe_tax.default_tax_rates(subscription.user, subscription.plan.product)
        if tax_rates:
            sub_data["default_tax_rates"] = tax_rates
    return params


def start_checkout(
    subscription: Subscription, *, trial_days: int, success_url: str, cancel_url: str
) -> str:
    """Open the Stripe Checkout Session that starts ``subscription``; its URL. On failure the
    row expires, its discount use is given back, and PaymentProviderError is raised."""
    try:
        params = _checkout_params(
            subscription, trial_days=trial_days, success_url=success_url, cancel_url=cancel_url
        )
        session = stripe_client.create_checkout_session(
            params=params, idempotency_key=f"checkout-subscription-{subscription.pk}"
        )
    except (stripe.StripeError, errors.PaymentProviderError) as exc:
        logger.warning("Stripe subscription checkout failed for %s: %s", subscription.pk, exc)
        with transaction.atomic():
            Subscription.objects.filter(pk=subscription.pk, status=S.INCOMPLETE).update(
                status=S.INCOMPLETE_EXPIRED, updated_at=timezone.now()
            )
            discount_codes.release(subscription)
            timeline.add(
                subscription,
                EventType.STATUS_CHANGED,
                "The payment page could not be opened; nothing was charged.",
                source=Source.SYSTEM,
            )
        raise errors.PaymentProviderError() from exc
    Subscription.objects.filter(pk=subscription.pk).update(
        checkout_session_id=session["id"],
        checkout_url=session.get("url") or "",
        updated_at=timezone.now(),
    )
    return session.get("url") or ""


def _stripe_coupon(subscription: Subscription, discount: Discount) -> str:
    """A Stripe coupon mirroring our discount, with its duration (once, repeating for N
    months, forever: coupons.services)."""
    coupon = stripe_client.create_coupon(
        **stripe_promotions.coupon_params(discount),
        idempotency_key=f"coupon-subscription-{subscription.pk}",
    )
    coupon_id: str = coupon["id"]
    return coupon_id


def billing_portal_url(*, user: User, return_url: str) -> str:
    """Stripe's billing portal, where the customer updates their card."""
    if not stripe_client.is_configured():
        raise errors.StripeNotConfigured()
    profile = CustomerBillingProfile.objects.filter(user=user).first()
    if profile is None or not profile.stripe_customer_id:
        raise errors.NoPaymentProfile()
    session = stripe_call(
        stripe_client.create_portal_session,
        customer=profile.stripe_customer_id,
        return_url=return_url,
    )
    url: str = session["url"]
    return url


# --- Stripe -> our record ------------------------------------------------------------------


def _local_for_stripe(obj: dict) -> Subscription | None:
    found: Subscription | None = Subscription.objects.filter(
        stripe_subscription_id=obj["id"]
    ).first()
    if found is not None:
        return found
    profile = (
        CustomerBillingProfile.objects.filter(stripe_customer_id=obj.get("customer") or "-")
        .select_related("user")
        .first()
    )
    local_id = parse_id((obj.get("metadata") or {}).get("subscription_id"))
    if local_id:
        unlinked: Subscription | None = Subscription.objects.filter(
            pk=local_id, stripe_subscription_id__isnull=True
        ).first()
        if unlinked is not None and (profile is None or profile.user_id == unlinked.user_id):
            return unlinked
    if profile is None:
        return None
    price, plan = _catalog_price(obj)
    if plan is None:
        logger.warning("Stripe subscription %s has no plan in our catalog", obj["id"])
        return None
    created: Subscription = Subscription.objects.create(
        user=profile.user,
        plan=plan,
        price=price,
        billing_source=BillingSource.STRIPE,
        stripe_subscription_id=obj["id"],
        status=S.INCOMPLETE,
    )
    return created


def _catalog_price(obj: dict) -> tuple[Price | None, Plan | None]:
    item = ((obj.get("items") or {}).get("data") or [{}])[0]
    stripe_price = item.get("price") or {}
    price_id = stripe_price.get("id") if isinstance(stripe_price, dict) else stripe_price
    price = Price.objects.filter(stripe_price_id=price_id or "-").first()
    plan = Plan.objects.filter(product_id=price.product_id).first() if price else None
    if plan is None:
        plan_id = parse_id((obj.get("metadata") or {}).get("plan_id"))
        if plan_id:
            plan = Plan.objects.filter(pk=plan_id).first()
    return price, plan


def apply_stripe_subscription(
    obj: dict,
    *,
    state_at: datetime,
    source: str = Source.STRIPE,
    stripe_event_id: str = "",
    actor: User | None = None,
) -> Subscription | None:
    """Make our row match Stripe's subscription ``obj`` as of ``state_at``.

    Locks the row. A state older than the one stored is ignored; a CANCELED subscription is
    never revived (Stripe never does either). Appends timeline rows for what changed, grants
    trial credits on entering a trial, and e-mails the customer when it becomes past due.
    """
    found = _local_for_stripe(obj)
    if found is None:
        return None
    sub: Subscription = (
        Subscription.objects.for_update().select_related("plan", "user").get(pk=found.pk)
    )
    if sub.stripe_state_at and state_at < sub.stripe_state_at:
        logger.info(
            "Ignoring an older state of %s (%s < %s)", obj["id"], state_at, sub.stripe_state_at
        )
        return sub
    new_status = map_status(obj.get("status"))
    if sub.status in TERMINAL and sub.stripe_subscription_id and new_status != sub.status:
        return sub
    old: dict[str, Any] = {
        "status": sub.status,
        "plan": sub.plan_id,
        "price": sub.price_id,
        "quantity": sub.quantity,
        "cancel_at_period_end": sub.cancel_at_period_end,
        "period_end": sub.current_period_end,
    }
    _copy_stripe_state(sub, obj, new_status=new_status, old_status=old["status"], state_at=state_at)
    sub.stripe_state_at = state_at
    sub.save()
    _record_changes(sub, old, source=source, stripe_event_id=stripe_event_id, actor=actor)
    return sub


def _copy_stripe_state(
    sub: Subscription, obj: dict, *, new_status: str, old_status: str, state_at: datetime
) -> None:
    """Stripe's status, period, cancellation, trial, quantity, price and plan onto our row
    (not saved); the past-due clock starts on entering PAST_DUE and stops once paid."""
    item = ((obj.get("items") or {}).get("data") or [{}])[0]
    price, plan = _catalog_price(obj)
    sub.stripe_subscription_id = obj["id"]
    sub.status = new_status
    sub.current_period_start = (
        timestamp(item.get("current_period_start")) or sub.current_period_start
    )
    sub.current_period_end = timestamp(item.get("current_period_end")) or sub.current_period_end
    sub.cancel_at_period_end = bool(obj.get("cancel_at_period_end")) or bool(
        obj.get("cancel_at") and new_status not in TERMINAL
    )
    sub.canceled_at = timestamp(obj.get("canceled_at"))
    sub.ended_at = timestamp(obj.get("ended_at"))
    sub.trial_start = timestamp(obj.get("trial_start"))
    sub.trial_end = timestamp(obj.get("trial_end"))
    sub.quantity = int(item.get("quantity") or sub.quantity or 1)
    if price is not None:
        sub.price = price
    if plan is not None:
        sub.plan = plan
    if new_status == S.PAST_DUE and old_status != S.PAST_DUE:
        sub.past_due_since = sub.past_due_since or state_at
    elif new_status in (S.ACTIVE, S.TRIALING):
        sub.past_due_since = None


def _record_changes(
    sub: Subscription,
    old: dict,
    *,
    source: str,
    stripe_event_id: str,
    actor: User | None = None,
) -> None:
    def add(type_: str, message: str, **payload: object) -> None:
        timeline.add(
            sub,
            type_,
            message,
            source=source,
            payload=payload,
            stripe_event_id=stripe_event_id,
            actor=actor,
        )

    if old["status"] != sub.status:
        _record_status_change(sub, old["status"], add)
    if (
        old["plan"] != sub.plan_id
        or old["price"] != sub.price_id
        or old["quantity"] != sub.quantity
    ):
        # The payload holds the state BEFORE the change, in the same shape as a manual plan
        # change, so analytics can price any past day from the timeline.
        seats = f", {sub.quantity} seats" if sub.quantity != 1 else ""
        add(
            EventType.PLAN_CHANGED,
            f"Your plan is now {sub.plan.name}"
            f"{' (' + sub.interval + 'ly)' if sub.interval else ''}{seats}.",
            plan=old["plan"],
            price=old["price"],
            quantity=old["quantity"],
            new_plan=sub.plan_id,
            new_price=sub.price_id,
        )
    if old["cancel_at_period_end"] != sub.cancel_at_period_end and sub.status not in TERMINAL:
        if sub.cancel_at_period_end:
            end = sub.current_period_end
            add(
                EventType.CANCEL_SCHEDULED,
                f"Your subscription will end on {end:%d %B %Y}."
                if end
                else "Your subscription will end at the period end.",
            )
        else:
            add(EventType.RESUMED, "Your subscription will renew as usual.")
    if (
        old["period_end"]
        and sub.current_period_end
        and sub.current_period_end > old["period_end"]
        and old["status"] == sub.status
        and sub.status == S.ACTIVE
    ):
        add(EventType.RENEWED, f"Renewed until {sub.current_period_end:%d %B %Y}.")


def _record_status_change(sub: Subscription, old_status: str, add: Callable[..., None]) -> None:
    """The timeline entry for a new status, the trial's credits on entering a trial at the
    start, and the past-due e-mail."""
    types: dict[str, str] = {
        S.TRIALING: EventType.TRIAL_STARTED,
        S.CANCELED: EventType.CANCELED,
        S.PAUSED: EventType.PAUSED,
    }
    type_ = types.get(sub.status, EventType.STATUS_CHANGED)
    if sub.status == S.ACTIVE and old_status in (S.INCOMPLETE, S.TRIALING):
        type_ = EventType.ACTIVATED
    if old_status == S.PAUSED and sub.status == S.ACTIVE:
        type_ = EventType.UNPAUSED
    add(type_, STATUS_WORDS.get(sub.status, sub.status), old=old_status, new=sub.status)
    if sub.status == S.TRIALING and old_status in (S.INCOMPLETE, S.INCOMPLETE_EXPIRED):
        # Only a trial at the start: a comp (staff) also uses Stripe's trial mechanism.
        grant_trial_credits(sub)
    if sub.status == S.PAST_DUE:
        email_past_due(sub)
