"""A subscription's life: subscribe, cancel, resume, and the staff's trial extension and
free period. Free plans and plans sold by invoice start here alone; Stripe-billed ones start
with a Stripe Checkout Session and go live through Stripe's events (``stripe_adapter``).
What a change does at the processor is the backend's (``backends.backend_for``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts import authority
from accounts.models import User
from billing import errors
from billing.models import BillingSource, Invoice, Subscription
from billing.services import invoices, timeline
from billing.services.customers import get_profile
from billing.services.subscriptions import discount_codes, stripe_adapter
from billing.services.subscriptions.backends import backend_for
from billing.services.subscriptions.state import (
    CREDIT_SOURCE_PLAN,
    INTERVALS,
    STATUS_WORDS,
    S,
    add_interval,
    grant_trial_credits,
    price_of,
    source_for,
    trial_extensible,
)
from billing.services.timeline import EventType, Source
from billing.stripe import client as stripe_client
from catalog.models import Plan, Price
from core import audit
from core.ids import parse_id
from core.models import AuditAction
from credits.services import grant_credits

# --- reads ---------------------------------------------------------------------------------


def subscription_for_user(*, user: User, subscription_id: object) -> Subscription:
    """The user's own subscription or SubscriptionNotFound (404): never another's."""
    pk = parse_id(subscription_id)
    subscription = (
        Subscription.objects.filter(pk=pk, user=user).select_related("plan", "price").first()
        if pk
        else None
    )
    if subscription is None:
        raise errors.SubscriptionNotFound()
    return subscription


def live_subscription(*, user: User) -> Subscription | None:
    return Subscription.objects.filter(user=user).live().order_by("-created_at").first()


def plan_and_price(plan: Plan | str, interval: str) -> tuple[Plan, Price]:
    """The plan (or the plan with that slug) and its price for ``interval``, when on sale.
    Raises PlanNotFound, PlanNotAvailable."""
    if not isinstance(plan, Plan):
        found = Plan.objects.filter(slug=str(plan)).select_related("product").first()
        if found is None:
            raise errors.PlanNotFound()
        plan = found
    if interval not in INTERVALS:
        raise errors.PlanNotAvailable("Choose a monthly or a yearly interval.", field="interval")
    price = plan.price_for_interval(interval)
    if (
        not plan.active
        or plan.cta_type != plan.CtaType.SUBSCRIBE
        or price is None
        or not price.active
        or plan.product.deleted_at is not None
    ):
        raise errors.PlanNotAvailable(plan=plan.slug, interval=interval)
    return plan, price


def sold_by(plan: Plan, price: Price) -> str:
    """How ``plan`` at ``price`` is sold right now: MANUAL (by invoice, paid by bank
    transfer; also every free price) or STRIPE (card payment through Stripe Checkout).

    A plan marked manual is always sold by invoice; a plan marked Stripe is sold through
    Stripe only while Stripe keys are configured, and by invoice otherwise, so every plan
    can be bought however the business is set up.
    """
    if (
        price is None
        or price.unit_amount == 0
        or plan.billing_source == BillingSource.MANUAL
        or not stripe_client.is_configured()
    ):
        return BillingSource.MANUAL
    return BillingSource.STRIPE


def change_blocker(subscription: Subscription, plan: Plan, price: Price) -> str:
    """Why ``subscription`` cannot move to ``plan`` at ``price`` by a plan change ("" when
    it can): a subscription stays with the processor that bills it."""
    if price is None or not price.active:
        return "Not offered at this interval."
    if subscription.price is not None and price.currency != subscription.price.currency:
        return "This plan is billed in another currency."
    stripe_billed = subscription.billing_source == BillingSource.STRIPE
    if stripe_billed != (sold_by(plan, price) == BillingSource.STRIPE):
        return (
            "This plan is billed differently (by card or by invoice); cancel and "
            "subscribe to it instead."
        )
    return ""


def trial_days_for(*, user: User, plan: Plan) -> int:
    """Trial days this customer would get on ``plan`` now (one trial per product)."""
    days = plan.product.trial_days or 0
    if (
        days
        and Subscription.objects.filter(
            user=user, plan__product=plan.product, trial_start__isnull=False
        ).exists()
    ):
        return 0  # one trial per customer per product
    return days


# --- subscribe -----------------------------------------------------------------------------


@dataclass
class SubscribeResult:
    subscription: Subscription
    redirect_url: str = ""
    invoice: Invoice | None = None


def _expire_unfinished_checkouts(user: User) -> None:
    """An abandoned Stripe checkout does not block a new attempt."""
    for stale in Subscription.objects.filter(
        user=user, status=S.INCOMPLETE, stripe_subscription_id__isnull=True
    ):
        stale.status = S.INCOMPLETE_EXPIRED
        stale.save(update_fields=["status", "updated_at"])
        discount_codes.release(stale)
        timeline.add(
            stale,
            EventType.STATUS_CHANGED,
            "The unfinished checkout was replaced by a new one.",
            source=Source.SYSTEM,
        )


def _create(
    *,
    user: User,
    plan: Plan,
    price: Price,
    interval: str,
    local: bool,
    discount_code: str | None,
) -> Subscription:
    """The new INCOMPLETE row (call with the customer's billing profile locked)."""
    existing = live_subscription(user=user)
    if existing is not None:
        raise errors.SubscriptionExists(subscription=existing.pk)
    _expire_unfinished_checkouts(user)
    is_free = price.unit_amount == 0
    discount, promotion = (
        discount_codes.discount_for(code=discount_code, user=user, plan=plan, price=price)
        if discount_code and not is_free
        else (None, None)
    )
    subscription = Subscription.objects.create(
        user=user,
        plan=plan,
        price=price,
        discount=discount,
        promotion_code=promotion,
        billing_source=BillingSource.MANUAL if local else BillingSource.STRIPE,
        status=S.INCOMPLETE,
    )
    if discount is not None:
        discount_codes.redeem(subscription, discount)
    audit.record(
        actor=user,
        action=AuditAction.CREATE,
        resource=subscription,
        new={"plan": plan.slug, "interval": interval, "price": price.pk},
    )
    return subscription


def subscribe(
    *,
    user: User,
    plan: Plan | str,
    interval: str,
    discount_code: str | None = None,
    success_url: str = "",
    cancel_url: str = "",
) -> SubscribeResult:
    """Start a subscription to ``plan`` (a Plan or its slug) billed every ``interval``.

    - Free ($0) price: active at once, no payment.
    - Sold by invoice (``sold_by``: a manual plan, or any plan while Stripe keys are not
      configured): a local subscription (trialing if the product has trial days, else active
      with its first invoice due in ``billing.invoice_due_days``).
    - Stripe: an INCOMPLETE local row and a Stripe Checkout Session (mode subscription, trial
      days from the product); Stripe's events make it live.
    Trials follow the same rule either way (``trial_days_for``).
    The customer's billing profile row is locked while checking, so two concurrent requests
    cannot both start one. Raises PlanNotFound, PlanNotAvailable, SubscriptionExists,
    DiscountError subclasses, PaymentProviderError.
    """
    plan, price = plan_and_price(plan, interval)
    is_free = price.unit_amount == 0
    local = is_free or sold_by(plan, price) == BillingSource.MANUAL
    profile = get_profile(user=user)
    now = timezone.now()
    with transaction.atomic():
        type(profile).objects.select_for_update().get(pk=profile.pk)
        subscription = _create(
            user=user,
            plan=plan,
            price=price,
            interval=interval,
            local=local,
            discount_code=discount_code,
        )
        trial_days = 0 if is_free else trial_days_for(user=user, plan=plan)
        if local:
            invoice = _start_local(subscription, now=now, trial_days=trial_days)
        else:
            timeline.add(
                subscription,
                EventType.CREATED,
                f"You started subscribing to {plan.name}.",
                source=Source.CUSTOMER,
                actor=user,
            )
    if local:
        if invoice is not None:
            invoices.email_new_invoice_on_commit(invoice)
        subscription.refresh_from_db()
        return SubscribeResult(subscription=subscription, invoice=invoice)
    url = stripe_adapter.start_checkout(
        subscription, trial_days=trial_days, success_url=success_url, cancel_url=cancel_url
    )
    subscription.refresh_from_db()
    return SubscribeResult(subscription=subscription, redirect_url=url)


def _start_local(subscription: Subscription, *, now: datetime, trial_days: int) -> Invoice | None:
    """Start a free or invoiced subscription: its trial, or its first period and invoice."""
    plan, price = subscription.plan, subscription.price
    timeline.add(
        subscription,
        EventType.CREATED,
        f"You subscribed to {plan.name}.",
        source=Source.CUSTOMER,
        actor=subscription.user,
    )
    if trial_days:
        end = now + timedelta(days=trial_days)
        Subscription.objects.filter(pk=subscription.pk).update(
            status=S.TRIALING,
            trial_start=now,
            trial_end=end,
            current_period_start=now,
            current_period_end=end,
            updated_at=now,
        )
        subscription.refresh_from_db()
        timeline.add(
            subscription,
            EventType.TRIAL_STARTED,
            f"Your free trial runs until {end:%d %B %Y}.",
            source=Source.SYSTEM,
        )
        grant_trial_credits(subscription)
        return None
    price = price_of(subscription)
    end = add_interval(now, price.interval, price.interval_count)
    Subscription.objects.filter(pk=subscription.pk).update(
        status=S.ACTIVE, current_period_start=now, current_period_end=end, updated_at=now
    )
    subscription.refresh_from_db()
    timeline.add(subscription, EventType.ACTIVATED, STATUS_WORDS[S.ACTIVE], source=Source.SYSTEM)
    return invoices.create_period_invoice(
        subscription, period_start=now, period_end=end, billing_reason="subscription_create"
    )


def cancel(
    *, subscription: Subscription, at_period_end: bool, actor: User | None, reason: str = ""
) -> Subscription:
    """Cancel at the period end (access until then) or now (access ends at once; no refund
    for the unused part of the period). ``reason`` goes into the audit row. Raises
    SubscriptionNotCancelable, and NotAuthorized for staff whose role may not (the customer
    may cancel their own)."""
    authority.require(
        actor,
        "billing.subscription.cancel_at_end"
        if at_period_end
        else "billing.subscription.cancel_now",
        owner_id=subscription.user_id,
    )
    if subscription.status not in Subscription.LIVE_STATUSES and not (
        subscription.status == S.INCOMPLETE and not at_period_end
    ):
        raise errors.SubscriptionNotCancelable()
    if at_period_end and subscription.cancel_at_period_end:
        return subscription
    return backend_for(subscription).cancel(
        subscription,
        at_period_end=at_period_end,
        actor=actor,
        source=source_for(actor, subscription),
        reason=reason,
    )


def resume(*, subscription: Subscription, actor: User | None) -> Subscription:
    """Undo a cancellation scheduled for the period end, before that end."""
    if (
        not subscription.cancel_at_period_end
        or subscription.status not in Subscription.LIVE_STATUSES
        or (subscription.current_period_end and subscription.current_period_end <= timezone.now())
    ):
        raise errors.SubscriptionNotResumable()
    return backend_for(subscription).resume(
        subscription, actor=actor, source=source_for(actor, subscription)
    )


# --- staff actions ------------------------------------------------------------------------


def extend_trial(*, subscription: Subscription, days: int, actor: User | None) -> Subscription:
    """Move a trialing subscription's trial end ``days`` later (1..TRIAL_EXTENSION_MAX_DAYS).

    Stripe-billed: Stripe is asked for the new absolute trial end, with an idempotency key
    derived from the current end and the days, so a retried call cannot extend twice; our row
    then follows Stripe's answer. Manual: the row is locked and re-checked, then moved.
    Either way a TRIAL_EXTENDED timeline event and an audit row (old and new end) are
    written. Raises TrialExtensionInvalid when the subscription is not in a trial, and
    NotAuthorized / ApprovalRequired per the staff policy (the amount is the days).
    """
    authority.require(actor, "billing.subscription.extend_trial", amount=days)
    if not trial_extensible(subscription, days):
        raise errors.TrialExtensionInvalid()
    return backend_for(subscription).extend_trial(subscription, days=days, actor=actor)


def comp_period(*, subscription: Subscription, actor: User | None) -> Subscription:
    """Give the customer the next period free: the next charge moves one interval later,
    and the plan's credits for the free period are granted now (once)."""
    if subscription.status not in (S.ACTIVE, S.PAST_DUE) or not subscription.current_period_end:
        raise errors.SubscriptionNotChangeable(
            "Only an active subscription can be given a free period."
        )
    price = price_of(subscription)
    # The size of the gift is what the free period would have cost.
    authority.require(
        actor, "billing.subscription.comp_period", amount=price.unit_amount * subscription.quantity
    )
    start = subscription.current_period_end
    new_end = add_interval(start, price.interval, price.interval_count)
    sub = backend_for(subscription).comp_until(
        subscription, start=start, new_end=new_end, actor=actor
    )
    with transaction.atomic():
        timeline.add(
            sub,
            EventType.PERIOD_COMPED,
            f"You get the period until {new_end:%d %B %Y} free.",
            source=Source.STAFF,
            actor=actor,
        )
        if sub.plan.credits_per_period:
            grant_credits(
                user=sub.user,
                amount=sub.plan.credits_per_period,
                source=CREDIT_SOURCE_PLAN,
                expires_at=new_end,
                idempotency_key=f"subscription-{sub.pk}-comp-{int(start.timestamp())}",
                details={"subscription": sub.pk, "comp": True},
                source_ref=f"subscription-{sub.pk}",
            )
        audit.record(
            actor=actor,
            action=AuditAction.UPDATE,
            resource=sub,
            operation="comp_period",
            until=new_end.isoformat(),
        )
    return sub
