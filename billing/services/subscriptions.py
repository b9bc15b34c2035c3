"""Subscriptions: subscribe, follow Stripe, and the customer's and staff's actions.

Our Subscription row is the business record. For Stripe-billed subscriptions it follows
Stripe: every Stripe object (from a webhook or an API answer) is applied through
``apply_stripe_subscription`` with the time of that state, and a state older than the one
stored is ignored, so repeated or out-of-order events never move a subscription backwards.
Periods come from the subscription items (Stripe's API since 2025-03-31).
Manual subscriptions (bank transfer) and free plans live here alone; see services.invoices.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import authority
from billing import errors, stripe_client
from billing.models import BillingSource, Subscription, SubscriptionStatus
from billing.services import timeline
from billing.services.timeline import EventType, Source
from core import audit
from core.ids import parse_id
from core.models import AuditAction

logger = logging.getLogger(__name__)

S = SubscriptionStatus
TERMINAL = (S.CANCELED, S.INCOMPLETE_EXPIRED)
INTERVALS = ("month", "year")
CREDIT_SOURCE_PLAN = "PLAN"
CREDIT_SOURCE_TRIAL = "TRIAL"

STATUS_WORDS = {
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


def _ts(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def add_interval(moment: datetime, interval: str, count: int = 1) -> datetime:
    if interval == "year":
        return moment + relativedelta(years=count)
    if interval == "week":
        return moment + timedelta(weeks=count)
    if interval == "day":
        return moment + timedelta(days=count)
    return moment + relativedelta(months=count)


# --- reads ---------------------------------------------------------------------------------


def subscription_for_user(*, user, subscription_id) -> Subscription:
    """The user's own subscription or SubscriptionNotFound (404): never another's."""
    pk = parse_id(subscription_id)
    subscription = (Subscription.objects.filter(pk=pk, user=user)
                    .select_related("plan", "price").first() if pk else None)
    if subscription is None:
        raise errors.SubscriptionNotFound()
    return subscription


def live_subscription(*, user) -> Subscription | None:
    return (Subscription.objects.filter(user=user, status__in=Subscription.LIVE_STATUSES)
            .order_by("-created_at").first())


def _plan_and_price(plan, interval: str):
    from catalog.models import Plan

    if not isinstance(plan, Plan):
        plan = Plan.objects.filter(slug=str(plan)).select_related("product").first()
        if plan is None:
            raise errors.PlanNotFound()
    if interval not in INTERVALS:
        raise errors.PlanNotAvailable("Choose a monthly or a yearly interval.", field="interval")
    price = plan.price_for_interval(interval)
    if (not plan.active or plan.cta_type != plan.CtaType.SUBSCRIBE or price is None
            or not price.active or plan.product.deleted_at is not None):
        raise errors.PlanNotAvailable(plan=plan.slug, interval=interval)
    return plan, price


def sold_by(plan, price) -> str:
    """How ``plan`` at ``price`` is sold right now: MANUAL (by invoice, paid by bank
    transfer; also every free price) or STRIPE (card payment through Stripe Checkout).

    A plan marked manual is always sold by invoice; a plan marked Stripe is sold through
    Stripe only while Stripe keys are configured, and by invoice otherwise, so every plan
    can be bought however the business is set up.
    """
    if (price is None or price.unit_amount == 0 or plan.billing_source == BillingSource.MANUAL
            or not stripe_client.is_configured()):
        return BillingSource.MANUAL
    return BillingSource.STRIPE


def change_blocker(subscription: Subscription, plan, price) -> str:
    """Why ``subscription`` cannot move to ``plan`` at ``price`` by a plan change ("" when
    it can): a subscription stays with the processor that bills it."""
    if price is None or not price.active:
        return "Not offered at this interval."
    if subscription.price_id and price.currency != subscription.price.currency:
        return "This plan is billed in another currency."
    stripe_billed = subscription.billing_source == BillingSource.STRIPE
    if stripe_billed != (sold_by(plan, price) == BillingSource.STRIPE):
        return ("This plan is billed differently (by card or by invoice); cancel and "
                "subscribe to it instead.")
    return ""


# --- subscribe -----------------------------------------------------------------------------


@dataclass
class SubscribeResult:
    subscription: Subscription
    redirect_url: str = ""
    invoice: object | None = None


def _discount_for(*, code: str, user, plan, price):
    """Validate a discount code for a plan's first payment under the Discount row lock (the
    same rules and counts as an order: one use per code for a first-time customer, the
    per-customer and total limits); ``_redeem_discount`` then records the use."""
    from decimal import Decimal

    from billing.pricing import QuoteLine
    from billing.services import discounts

    discount = discounts.find_discount(code)
    line = QuoteLine(product=plan.product, quantity=1, unit_amount=price.unit_amount,
                     line_total=price.unit_amount, currency=price.currency,
                     tax_rate=Decimal(plan.product.tax_rate), price=price,
                     description=plan.name)
    return discounts.lock_and_validate(discount_id=discount.pk, user=user, lines=[line],
                                       currency=price.currency)


def _redeem_discount(subscription: Subscription) -> None:
    from billing.pricing import discount_total
    from billing.services import discounts

    amount = subscription.price.unit_amount * subscription.quantity
    discounts.redeem(discount=subscription.discount, user=subscription.user,
                     subscription=subscription, currency=subscription.price.currency,
                     amount_saved=discount_total(subscription.discount, amount))


def _release_discount(subscription: Subscription) -> None:
    from billing.services import discounts

    if subscription.discount_id:
        discounts.release(subscription=subscription)


def trial_days_for(*, user, plan) -> int:
    """Trial days this customer would get on ``plan`` now (one trial per product)."""
    days = plan.product.trial_days or 0
    if days and Subscription.objects.filter(user=user, plan__product=plan.product,
                                            trial_start__isnull=False).exists():
        return 0  # one trial per customer per product
    return days


def subscribe(*, user, plan, interval: str, discount_code: str | None = None,
              success_url: str = "", cancel_url: str = "") -> SubscribeResult:
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
    from billing.services import invoices
    from billing.services.customers import get_profile

    plan, price = _plan_and_price(plan, interval)
    is_free = price.unit_amount == 0
    manual = not is_free and sold_by(plan, price) == BillingSource.MANUAL
    profile = get_profile(user=user)
    now = timezone.now()
    with transaction.atomic():
        type(profile).objects.select_for_update().get(pk=profile.pk)
        existing = live_subscription(user=user)
        if existing is not None:
            raise errors.SubscriptionExists(subscription=existing.pk)
        # An abandoned Stripe checkout does not block a new attempt.
        for stale in Subscription.objects.filter(user=user, status=S.INCOMPLETE,
                                                 stripe_subscription_id__isnull=True):
            stale.status = S.INCOMPLETE_EXPIRED
            stale.save(update_fields=["status", "updated_at"])
            _release_discount(stale)
            timeline.add(stale, EventType.STATUS_CHANGED,
                         "The unfinished checkout was replaced by a new one.",
                         source=Source.SYSTEM)
        discount = (_discount_for(code=discount_code, user=user, plan=plan, price=price)
                    if discount_code and not is_free else None)
        trial_days = 0 if is_free else trial_days_for(user=user, plan=plan)
        subscription = Subscription.objects.create(
            user=user, plan=plan, price=price, discount=discount,
            billing_source=BillingSource.STRIPE if not (is_free or manual)
            else BillingSource.MANUAL,
            status=S.INCOMPLETE)
        if discount is not None:
            _redeem_discount(subscription)
        audit.record(actor=user, action=AuditAction.CREATE, resource=subscription,
                     new={"plan": plan.slug, "interval": interval, "price": price.pk})
        if is_free or manual:
            invoice = _start_local(subscription, now=now, trial_days=trial_days)
            result = SubscribeResult(subscription=subscription, invoice=invoice)
        else:
            timeline.add(subscription, EventType.CREATED,
                         f"You started subscribing to {plan.name}.", source=Source.CUSTOMER,
                         actor=user)
            result = None
    if result is not None:
        if result.invoice is not None:
            invoices.email_new_invoice_on_commit(result.invoice)
        subscription.refresh_from_db()
        return result
    url = _start_stripe_checkout(subscription, trial_days=trial_days, success_url=success_url,
                                 cancel_url=cancel_url)
    subscription.refresh_from_db()
    return SubscribeResult(subscription=subscription, redirect_url=url)


def _start_local(subscription: Subscription, *, now, trial_days: int):
    from billing.services import invoices

    plan, price = subscription.plan, subscription.price
    timeline.add(subscription, EventType.CREATED, f"You subscribed to {plan.name}.",
                 source=Source.CUSTOMER, actor=subscription.user)
    if trial_days:
        end = now + timedelta(days=trial_days)
        Subscription.objects.filter(pk=subscription.pk).update(
            status=S.TRIALING, trial_start=now, trial_end=end, current_period_start=now,
            current_period_end=end, updated_at=now)
        subscription.refresh_from_db()
        timeline.add(subscription, EventType.TRIAL_STARTED,
                     f"Your free trial runs until {end:%d %B %Y}.", source=Source.SYSTEM)
        grant_trial_credits(subscription)
        return None
    end = add_interval(now, price.interval, price.interval_count)
    Subscription.objects.filter(pk=subscription.pk).update(
        status=S.ACTIVE, current_period_start=now, current_period_end=end, updated_at=now)
    subscription.refresh_from_db()
    timeline.add(subscription, EventType.ACTIVATED, STATUS_WORDS[S.ACTIVE], source=Source.SYSTEM)
    return invoices.create_period_invoice(subscription, period_start=now, period_end=end,
                                          billing_reason="subscription_create")


def _start_stripe_checkout(subscription: Subscription, *, trial_days: int, success_url: str,
                           cancel_url: str) -> str:
    from billing.services.customers import ensure_stripe_customer
    from billing.sync import ensure_stripe_price

    metadata = {"subscription_id": str(subscription.pk), "user_id": str(subscription.user_id),
                "plan_id": str(subscription.plan_id)}
    try:
        customer_id = ensure_stripe_customer(user=subscription.user)
        price_id = ensure_stripe_price(subscription.price)
        sub_data = {"metadata": metadata}
        if trial_days:
            sub_data["trial_period_days"] = trial_days
        params = {"mode": "subscription", "customer": customer_id,
                  "client_reference_id": f"subscription-{subscription.pk}",
                  "line_items": [{"price": price_id, "quantity": subscription.quantity}],
                  "subscription_data": sub_data, "metadata": metadata,
                  "success_url": success_url, "cancel_url": cancel_url}
        if subscription.discount_id:
            params["discounts"] = [{"coupon": _stripe_coupon(subscription)}]
        if getattr(settings, "STRIPE_AUTOMATIC_TAX", False):
            # Stripe Tax computes the same rule from the customer's address and tax id.
            params["automatic_tax"] = {"enabled": True}
            params["customer_update"] = {"address": "auto"}
            params["tax_id_collection"] = {"enabled": True}
        session = stripe_client.create_checkout_session(
            params=params, idempotency_key=f"checkout-subscription-{subscription.pk}")
    except (stripe_client.stripe.StripeError, errors.PaymentProviderError) as exc:
        logger.warning("Stripe subscription checkout failed for %s: %s", subscription.pk, exc)
        with transaction.atomic():
            Subscription.objects.filter(pk=subscription.pk, status=S.INCOMPLETE).update(
                status=S.INCOMPLETE_EXPIRED, updated_at=timezone.now())
            _release_discount(subscription)
            timeline.add(subscription, EventType.STATUS_CHANGED,
                         "The payment page could not be opened; nothing was charged.",
                         source=Source.SYSTEM)
        raise errors.PaymentProviderError() from exc
    Subscription.objects.filter(pk=subscription.pk).update(
        checkout_session_id=session["id"], checkout_url=session.get("url") or "",
        updated_at=timezone.now())
    return session.get("url") or ""


def _stripe_coupon(subscription: Subscription) -> str:
    """A Stripe coupon mirroring our discount, with its duration (once, repeating for N
    months, forever: coupons.services)."""
    from coupons.services import stripe_duration

    discount = subscription.discount
    params = {**stripe_duration(discount), "name": discount.code[:40]}
    if discount.type == "PERCENTAGE":
        params["percent_off"] = str(discount.percent_off)
    else:
        params["amount_off"] = discount.amount_off
        params["currency"] = discount.currency
    coupon = stripe_client.create_coupon(**params,
                                         idempotency_key=f"coupon-subscription-"
                                                         f"{subscription.pk}")
    return coupon["id"]


# --- Stripe → our record ------------------------------------------------------------------


def _local_for_stripe(obj: dict) -> Subscription | None:
    from billing.models import CustomerBillingProfile

    found = Subscription.objects.filter(stripe_subscription_id=obj["id"]).first()
    if found is not None:
        return found
    profile = CustomerBillingProfile.objects.filter(
        stripe_customer_id=obj.get("customer") or "-").select_related("user").first()
    local_id = parse_id((obj.get("metadata") or {}).get("subscription_id"))
    if local_id:
        found = Subscription.objects.filter(pk=local_id,
                                            stripe_subscription_id__isnull=True).first()
        if found is not None and (profile is None or profile.user_id == found.user_id):
            return found
    if profile is None:
        return None
    price, plan = _catalog_price(obj)
    if plan is None:
        logger.warning("Stripe subscription %s has no plan in our catalog", obj["id"])
        return None
    return Subscription.objects.create(user=profile.user, plan=plan, price=price,
                                       billing_source=BillingSource.STRIPE,
                                       stripe_subscription_id=obj["id"], status=S.INCOMPLETE)


def _catalog_price(obj: dict):
    from catalog.models import Plan, Price

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


def apply_stripe_subscription(obj: dict, *, state_at: datetime, source: str = Source.STRIPE,
                              stripe_event_id: str = "", actor=None) -> Subscription | None:
    """Make our row match Stripe's subscription ``obj`` as of ``state_at``.

    Locks the row. A state older than the one stored is ignored; a CANCELED subscription is
    never revived (Stripe never does either). Appends timeline rows for what changed, grants
    trial credits on entering a trial, and e-mails the customer when it becomes past due.
    """
    found = _local_for_stripe(obj)
    if found is None:
        return None
    sub = _locked_subscriptions().select_related("plan", "user").get(
        pk=found.pk)
    if sub.stripe_state_at and state_at < sub.stripe_state_at:
        logger.info("Ignoring an older state of %s (%s < %s)", obj["id"], state_at,
                    sub.stripe_state_at)
        return sub
    new_status = map_status(obj.get("status"))
    if sub.status in TERMINAL and sub.stripe_subscription_id and new_status != sub.status:
        return sub
    old = {"status": sub.status, "plan": sub.plan_id, "price": sub.price_id,
           "quantity": sub.quantity,
           "cancel_at_period_end": sub.cancel_at_period_end,
           "period_end": sub.current_period_end}
    item = ((obj.get("items") or {}).get("data") or [{}])[0]
    price, plan = _catalog_price(obj)
    sub.stripe_subscription_id = obj["id"]
    sub.status = new_status
    sub.current_period_start = _ts(item.get("current_period_start")) or sub.current_period_start
    sub.current_period_end = _ts(item.get("current_period_end")) or sub.current_period_end
    sub.cancel_at_period_end = bool(obj.get("cancel_at_period_end")) or bool(
        obj.get("cancel_at") and new_status not in TERMINAL)
    sub.canceled_at = _ts(obj.get("canceled_at"))
    sub.ended_at = _ts(obj.get("ended_at"))
    sub.trial_start = _ts(obj.get("trial_start"))
    sub.trial_end = _ts(obj.get("trial_end"))
    sub.quantity = int(item.get("quantity") or sub.quantity or 1)
    if price is not None:
        sub.price = price
    if plan is not None:
        sub.plan = plan
    if new_status == S.PAST_DUE and old["status"] != S.PAST_DUE:
        sub.past_due_since = sub.past_due_since or state_at
    elif new_status in (S.ACTIVE, S.TRIALING):
        sub.past_due_since = None
    sub.stripe_state_at = state_at
    sub.save()
    _record_changes(sub, old, source=source, stripe_event_id=stripe_event_id, actor=actor)
    return sub


def _record_changes(sub: Subscription, old: dict, *, source: str, stripe_event_id: str,
                    actor=None) -> None:
    def add(type_, message, **payload):
        timeline.add(sub, type_, message, source=source, payload=payload,
                     stripe_event_id=stripe_event_id, actor=actor)

    if old["status"] != sub.status:
        type_ = {S.TRIALING: EventType.TRIAL_STARTED, S.CANCELED: EventType.CANCELED,
                 S.PAUSED: EventType.PAUSED}.get(sub.status, EventType.STATUS_CHANGED)
        if sub.status == S.ACTIVE and old["status"] in (S.INCOMPLETE, S.TRIALING):
            type_ = EventType.ACTIVATED
        if old["status"] == S.PAUSED and sub.status == S.ACTIVE:
            type_ = EventType.UNPAUSED
        add(type_, STATUS_WORDS.get(sub.status, sub.status), old=old["status"], new=sub.status)
        if sub.status == S.TRIALING and old["status"] in (S.INCOMPLETE, S.INCOMPLETE_EXPIRED):
            # Only a trial at the start: a comp (staff) also uses Stripe's trial mechanism.
            grant_trial_credits(sub)
        if sub.status == S.PAST_DUE:
            email_past_due(sub)
    if (old["plan"] != sub.plan_id or old["price"] != sub.price_id
            or old["quantity"] != sub.quantity):
        # The payload holds the state BEFORE the change, in the same shape as a manual plan
        # change, so analytics can price any past day from the timeline.
        seats = f", {sub.quantity} seats" if sub.quantity != 1 else ""
        add(EventType.PLAN_CHANGED, f"Your plan is now {sub.plan.name}"
            f"{' (' + sub.interval + 'ly)' if sub.interval else ''}{seats}.",
            plan=old["plan"], price=old["price"], quantity=old["quantity"],
            new_plan=sub.plan_id, new_price=sub.price_id)
    if old["cancel_at_period_end"] != sub.cancel_at_period_end and sub.status not in TERMINAL:
        if sub.cancel_at_period_end:
            end = sub.current_period_end
            add(EventType.CANCEL_SCHEDULED, "Your subscription will end on "
                f"{end:%d %B %Y}." if end else "Your subscription will end at the period end.")
        else:
            add(EventType.RESUMED, "Your subscription will renew as usual.")
    if (old["period_end"] and sub.current_period_end and sub.current_period_end > old["period_end"]
            and old["status"] == sub.status and sub.status == S.ACTIVE):
        add(EventType.RENEWED, f"Renewed until {sub.current_period_end:%d %B %Y}.")


def email_past_due(sub: Subscription) -> None:
    from django.conf import settings

    timeline.email_on_commit(
        user=sub.user, subject="Your payment failed",
        body=(f"We could not collect the payment for your {sub.plan.name} subscription.\n"
              f"Please update your payment method: {settings.SITE_URL}/billing/subscription/\n"
              "Your plan stays available for a few days while we retry."))


def grant_trial_credits(sub: Subscription) -> None:
    """The plan's trial allowance, once per subscription, expiring when the trial ends."""
    from credits.services import grant_credits

    amount = sub.plan.trial_credits
    if not amount or not sub.trial_end or sub.trial_end <= timezone.now():
        return
    grant_credits(user=sub.user, amount=amount, source=CREDIT_SOURCE_TRIAL,
                  expires_at=sub.trial_end, idempotency_key=f"subscription-{sub.pk}-trial-credits",
                  details={"subscription": sub.pk, "plan": sub.plan.slug},
                  source_ref=f"subscription-{sub.pk}")


# --- customer actions ---------------------------------------------------------------------


def _key(sub: Subscription, action: str) -> str:
    return f"subscription-{sub.pk}-{action}-{uuid.uuid4().hex}"


def _stripe_call(fn, *args, **kwargs) -> dict:
    try:
        return fn(*args, **kwargs)
    except stripe_client.StripeUnavailable as exc:
        raise errors.StripeNotConfigured() from exc
    except stripe_client.stripe.StripeError as exc:
        raise errors.PaymentProviderError() from exc


def _source_for(actor, sub) -> str:
    if actor is None:
        return Source.SYSTEM
    return Source.CUSTOMER if actor.pk == sub.user_id else Source.STAFF


def cancel(*, subscription: Subscription, at_period_end: bool, actor,
           reason: str = "") -> Subscription:
    """Cancel at the period end (access until then) or now (access ends at once; no refund
    for the unused part of the period). ``reason`` goes into the audit row. Raises
    SubscriptionNotCancelable, and NotAuthorized for staff whose role may not (the customer
    may cancel their own)."""
    authority.require(actor, "billing.subscription.cancel_at_end" if at_period_end
                      else "billing.subscription.cancel_now", owner_id=subscription.user_id)
    if subscription.status not in Subscription.LIVE_STATUSES and not (
            subscription.status == S.INCOMPLETE and not at_period_end):
        raise errors.SubscriptionNotCancelable()
    if at_period_end and subscription.cancel_at_period_end:
        return subscription
    source = _source_for(actor, subscription)
    if subscription.billing_source == BillingSource.STRIPE and subscription.stripe_subscription_id:
        if at_period_end:
            remote = _stripe_call(stripe_client.update_subscription,
                                  subscription.stripe_subscription_id, cancel_at_period_end=True,
                                  idempotency_key=_key(subscription, "cancel-end"))
        else:
            remote = _stripe_call(stripe_client.cancel_subscription,
                                  subscription.stripe_subscription_id,
                                  idempotency_key=_key(subscription, "cancel-now"))
        with transaction.atomic():
            sub = apply_stripe_subscription(remote, state_at=timezone.now(), source=source,
                                            actor=actor)
            audit.record(actor=actor, action=AuditAction.STATUS_CHANGE, resource=sub,
                         operation="subscription_cancel", at_period_end=at_period_end,
                         reason=reason)
        return sub
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if sub.status not in Subscription.LIVE_STATUSES and sub.status != S.INCOMPLETE:
            raise errors.SubscriptionNotCancelable()
        now = timezone.now()
        if at_period_end:
            sub.cancel_at_period_end = True
            sub.save(update_fields=["cancel_at_period_end", "updated_at"])
            end = sub.current_period_end
            timeline.add(sub, EventType.CANCEL_SCHEDULED,
                         f"Your subscription will end on {end:%d %B %Y}." if end
                         else "Your subscription will end at the period end.",
                         source=source, actor=actor)
        else:
            old = sub.status
            sub.status, sub.canceled_at, sub.ended_at = S.CANCELED, now, now
            sub.cancel_at_period_end = False
            sub.save()
            timeline.add(sub, EventType.CANCELED, STATUS_WORDS[S.CANCELED], source=source,
                         actor=actor, payload={"old": old})
        audit.record(actor=actor, action=AuditAction.STATUS_CHANGE, resource=sub,
                     operation="subscription_cancel", at_period_end=at_period_end,
                     reason=reason)
    return sub


def resume(*, subscription: Subscription, actor) -> Subscription:
    """Undo a cancellation scheduled for the period end, before that end."""
    if (not subscription.cancel_at_period_end or subscription.status not in
            Subscription.LIVE_STATUSES or (subscription.current_period_end
                                           and subscription.current_period_end <= timezone.now())):
        raise errors.SubscriptionNotResumable()
    source = _source_for(actor, subscription)
    if subscription.billing_source == BillingSource.STRIPE and subscription.stripe_subscription_id:
        remote = _stripe_call(stripe_client.update_subscription,
                              subscription.stripe_subscription_id, cancel_at_period_end=False,
                              idempotency_key=_key(subscription, "resume"))
        with transaction.atomic():
            sub = apply_stripe_subscription(remote, state_at=timezone.now(), source=source,
                                            actor=actor)
            audit.record(actor=actor, action=AuditAction.STATUS_CHANGE, resource=sub,
                         operation="subscription_resume")
        return sub
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if not sub.cancel_at_period_end:
            return sub
        sub.cancel_at_period_end = False
        sub.save(update_fields=["cancel_at_period_end", "updated_at"])
        timeline.add(sub, EventType.RESUMED, "Your subscription will renew as usual.",
                     source=source, actor=actor)
        audit.record(actor=actor, action=AuditAction.STATUS_CHANGE, resource=sub,
                     operation="subscription_resume")
    return sub


@dataclass
class ChangePreview:
    plan: object
    price: object
    interval: str
    currency: str
    amount_due: int
    credit: int = 0
    lines: list[dict] = field(default_factory=list)
    proration_date: int | None = None
    applied: bool = False
    subscription: Subscription | None = None
    # The invoice the change issues: subtotal - discount (credits) + tax = amount_due.
    subtotal: int = 0
    discount: int = 0
    tax: int = 0
    voids: str = ""  # the number of the unpaid invoice the change cancels

    def as_dict(self) -> dict:
        return {"plan": self.plan.slug, "interval": self.interval, "currency": self.currency,
                "amount_due": self.amount_due, "credit": self.credit, "lines": self.lines,
                "subtotal": self.subtotal, "discount": self.discount, "tax": self.tax,
                "voids_invoice": self.voids,
                "proration_date": self.proration_date, "applied": self.applied}


def change_plan(*, subscription: Subscription, plan, interval: str, preview: bool, actor,
                proration_date: int | None = None) -> ChangePreview:
    """Preview (``preview=True``, nothing changes) or apply a plan/interval change.

    Stripe: Stripe's invoice preview with prorations, then the subscription item's price is
    replaced with ``proration_behavior=always_invoice`` at the same proration date, so the
    customer pays what was previewed. Manual: our own calculation by the second (see
    ``manual_proration``). Raises SubscriptionNotChangeable, PlanNotFound, PlanNotAvailable,
    PlanChangeInvalid.
    """
    if subscription.status not in (S.ACTIVE, S.TRIALING):
        raise errors.SubscriptionNotChangeable()
    new_plan, new_price = _plan_and_price(plan, interval)
    if new_price.pk == subscription.price_id:
        raise errors.PlanChangeInvalid("You are already on this plan and interval.")
    blocker = change_blocker(subscription, new_plan, new_price)
    if blocker:
        raise errors.PlanChangeInvalid(blocker)
    stripe_billed = subscription.billing_source == BillingSource.STRIPE
    if stripe_billed:
        return _change_stripe(subscription, new_plan, new_price, interval, preview=preview,
                              actor=actor, proration_date=proration_date)
    return _change_manual(subscription, new_plan, new_price, interval, preview=preview,
                          actor=actor)


def _change_stripe(sub, plan, price, interval, *, preview, actor, proration_date):
    from billing.services.customers import ensure_stripe_customer
    from billing.sync import ensure_stripe_price

    try:
        price_id = ensure_stripe_price(price)
        customer = ensure_stripe_customer(user=sub.user)
    except stripe_client.stripe.StripeError as exc:
        raise errors.PaymentProviderError() from exc
    remote = _stripe_call(stripe_client.retrieve_subscription, sub.stripe_subscription_id)
    item_id = remote["items"]["data"][0]["id"]
    when = int(proration_date or timezone.now().timestamp())
    items = [{"id": item_id, "price": price_id}]
    upcoming = _stripe_call(stripe_client.preview_invoice, customer=customer,
                            subscription=sub.stripe_subscription_id, items=items,
                            proration_date=when)
    lines = [{"description": line.get("description") or "", "amount": int(line["amount"])}
             for line in (upcoming.get("lines") or {}).get("data", [])]
    result = ChangePreview(plan=plan, price=price, interval=interval,
                           currency=upcoming.get("currency") or price.currency,
                           amount_due=int(upcoming.get("amount_due") or 0),
                           credit=max(0, -int(upcoming.get("total") or 0)), lines=lines,
                           proration_date=when, subscription=sub)
    if preview:
        return result
    remote = _stripe_call(stripe_client.update_subscription, sub.stripe_subscription_id,
                          items=items, proration_behavior="always_invoice",
                          proration_date=when, metadata={"plan_id": str(plan.pk)},
                          idempotency_key=_key(sub, "change-plan"))
    with transaction.atomic():
        result.subscription = apply_stripe_subscription(
            remote, state_at=timezone.now(), source=_source_for(actor, sub), actor=actor)
        audit.record(actor=actor, action=AuditAction.UPDATE, resource=sub,
                     old={"plan": sub.plan_id, "price": sub.price_id},
                     new={"plan": plan.pk, "price": price.pk}, operation="plan_change")
    result.applied = True
    return result


def _share(amount: int, fraction) -> int:
    from decimal import ROUND_HALF_UP, Decimal

    return int((Decimal(amount) * fraction).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _left(start, end, now):
    """The fraction of [start, end] still ahead at ``now``, by the second."""
    from decimal import Decimal

    total = Decimal(max(1, int((end - start).total_seconds())))
    return Decimal(min(max(0, int((end - now).total_seconds())), int(total))) / total


def _current_period_invoices(sub: Subscription):
    from billing.models import Invoice, InvoiceStatus

    if not sub.current_period_end:
        return Invoice.objects.none()
    return (Invoice.objects.filter(subscription=sub, billing_source=BillingSource.MANUAL,
                                   period_end=sub.current_period_end)
            .exclude(status=InvoiceStatus.VOID).order_by("created_at", "id"))


def _invoiced_current_price(invoice, sub: Subscription) -> bool:
    items = [line for line in invoice.lines or [] if line.get("kind", "item") == "item"]
    if not items:
        return False
    if "price" in items[0]:
        return items[0]["price"] == sub.price_id
    return items[0].get("unit_amount") == sub.price.unit_amount


def period_value(invoice, sub: Subscription) -> int:
    """What the current plan is worth for a whole period, as the customer was charged for it:
    the price times the quantity, less the discount code's part when ``invoice`` (the
    period's own invoice, for the current price) took one off."""
    from billing.services.invoices import line_kind

    base = sub.price.unit_amount * sub.quantity
    if (invoice is None or invoice.billing_reason not in ("subscription_create",
                                                          "subscription_cycle")
            or not _invoiced_current_price(invoice, sub)):
        return base
    code_discount = sum(-int(line.get("amount") or 0) for line in invoice.lines or []
                        if line_kind(line) == "discount")
    return max(0, invoice.subtotal - code_discount)


def _billed_value(invoice) -> int:
    """What an unpaid period invoice charges for its period, before credits and tax."""
    from billing.services.invoices import line_kind

    code_discount = sum(-int(line.get("amount") or 0) for line in invoice.lines or []
                        if line_kind(line) == "discount")
    return max(0, invoice.subtotal - code_discount)


def manual_proration(sub: Subscription, price, *, now) -> dict:
    """Our day-based proration, by the second, rounded half-up once per amount; it credits
    only what was paid.

    Same interval: charge the unused share of the new price; the period stays. New interval:
    start a new full period of the new price now. For the old plan:
    - its period invoice is paid: credit the unused share of what it charged (a discounted
      period credits the discounted amount);
    - its period invoice is unpaid (nothing paid on it): that invoice is to be cancelled and
      the time used on the old plan is charged instead (``void`` and ``used``);
    - nothing was invoiced for the period (a trial, a free or comped period): no credit.
    A part-paid invoice or an unpaid plan-change invoice in the period is refused
    (PlanChangeInvalid): it is to be paid first. Trials cost nothing to change.
    """
    from billing.models import InvoiceStatus

    result = {"credit": 0, "charge": 0, "used": 0, "void": None,
              "period_start": sub.current_period_start, "period_end": sub.current_period_end}
    if sub.status == S.TRIALING or not sub.current_period_end:
        return result
    start, end = sub.current_period_start, sub.current_period_end
    left = _left(start, end, now)
    invoices = list(_current_period_invoices(sub))
    unpaid = [inv for inv in invoices if inv.status != InvoiceStatus.PAID]
    paid = [inv for inv in invoices if inv.status == InvoiceStatus.PAID]
    if unpaid:
        first = unpaid[0]
        if (len(unpaid) > 1 or paid or first.amount_paid
                or first.billing_reason not in ("subscription_create", "subscription_cycle")):
            raise errors.PlanChangeInvalid(
                f"Invoice {first.number} for this period is not fully paid; pay it before "
                "changing plan.", invoice=first.number)
        value = _billed_value(first)
        inv_left = _left(first.period_start or start, first.period_end or end, now)
        result["used"] = value - _share(value, inv_left)
        result["void"] = first
    elif paid:
        period_invoice = next((inv for inv in paid if inv.billing_reason in (
            "subscription_create", "subscription_cycle")), None)
        result["credit"] = _share(period_value(period_invoice, sub), left)
    new_amount = price.unit_amount * sub.quantity
    if price.interval == sub.price.interval and price.interval_count == sub.price.interval_count:
        result["charge"] = _share(new_amount, left)
        return result
    result.update(charge=new_amount, period_start=now,
                  period_end=add_interval(now, price.interval, price.interval_count))
    return result


def _change_manual(sub, plan, price, interval, *, preview, actor):
    from decimal import Decimal

    from billing.pricing import round_minor
    from billing.services import invoices

    now = timezone.now()
    calc = manual_proration(sub, price, now=now)
    subtotal = calc["used"] + calc["charge"]
    net = subtotal - calc["credit"]
    lines = []
    if calc["used"]:
        lines.append({"description": f"{sub.plan.name} from {sub.current_period_start:%d %b %Y}"
                                     f" to today (replaces unpaid invoice "
                                     f"{calc['void'].number})",
                      "amount": calc["used"], "kind": "item"})
    if calc["credit"]:
        lines.append({"description": f"Unused time on {sub.plan.name}",
                      "amount": -calc["credit"], "kind": "credit"})
    if calc["charge"]:
        lines.append({"description": f"{plan.name} ({interval}ly) from today",
                      "amount": calc["charge"], "kind": "item"})
    from billing.tax import tax_for

    decision = tax_for(sub.user, product=plan.product)
    tax = round_minor(Decimal(net) * decision.rate) if net > 0 else 0
    tax_lines = ([{"description": decision.line_label(), "amount": tax, "kind": "tax"}]
                 if tax else [decision.reverse_charge_line()]
                 if decision.reverse_charge and net > 0 else [])
    result = ChangePreview(plan=plan, price=price, interval=interval,
                           currency=price.currency, amount_due=max(net, 0) + tax,
                           credit=max(-net, 0), lines=[*lines, *tax_lines],
                           proration_date=int(now.timestamp()), subscription=sub,
                           subtotal=subtotal if net > 0 else 0,
                           discount=calc["credit"] if net > 0 else 0, tax=tax,
                           voids=calc["void"].number if calc["void"] else "")
    if preview:
        return result
    with transaction.atomic():
        locked = _locked_subscriptions().select_related("plan", "price").get(
            pk=sub.pk)
        if locked.price_id != sub.price_id or locked.status not in (S.ACTIVE, S.TRIALING):
            raise errors.SubscriptionNotChangeable()
        if calc["void"] is not None:
            # Re-read under the lock: the unpaid invoice must still be unpaid.
            again = manual_proration(locked, price, now=now)
            if again["void"] is None or again["void"].pk != calc["void"].pk:
                raise errors.SubscriptionNotChangeable(
                    "The subscription's invoices changed; preview the change again.")
            invoices.void_for_plan_change(invoice_id=calc["void"].pk, subscription=locked,
                                          actor=actor)
            locked.refresh_from_db()
        old = {"plan": locked.plan_id, "price": locked.price_id, "quantity": locked.quantity}
        locked.plan, locked.price = plan, price
        locked.current_period_start = calc["period_start"]
        locked.current_period_end = calc["period_end"]
        if net < 0:
            locked.credit_balance += -net
        locked.save()
        timeline.add(locked, EventType.PLAN_CHANGED,
                     f"Your plan is now {plan.name} ({interval}ly).",
                     source=_source_for(actor, locked), actor=actor,
                     payload={**old, "net": net})
        invoice = None
        if net > 0:
            # The invoice adds its own tax line from the same rate and net amount.
            invoice = invoices.create_change_invoice(locked, lines=lines, subtotal=subtotal,
                                                     credit=calc["credit"])
        audit.record(actor=actor, action=AuditAction.UPDATE, resource=locked, old=old,
                     new={"plan": plan.pk, "price": price.pk}, operation="plan_change",
                     net=net, voided=result.voids)
    if invoice is not None:
        invoices.email_new_invoice_on_commit(invoice)
    result.subscription, result.applied = locked, True
    return result


def billing_portal_url(*, user, return_url: str) -> str:
    """Stripe's billing portal, where the customer updates their card."""
    from billing.models import CustomerBillingProfile

    if not stripe_client.is_configured():
        raise errors.StripeNotConfigured()
    profile = CustomerBillingProfile.objects.filter(user=user).first()
    if profile is None or not profile.stripe_customer_id:
        raise errors.NoPaymentProfile()
    session = _stripe_call(stripe_client.create_portal_session,
                           customer=profile.stripe_customer_id, return_url=return_url)
    return session["url"]


# --- staff actions ------------------------------------------------------------------------


TRIAL_EXTENSION_MAX_DAYS = 90


def _trial_extensible(sub: Subscription, days: int) -> bool:
    return (sub.status == S.TRIALING and sub.trial_end is not None
            and 1 <= days <= TRIAL_EXTENSION_MAX_DAYS)


def extend_trial(*, subscription: Subscription, days: int, actor) -> Subscription:
    """Move a trialing subscription's trial end ``days`` later (1..TRIAL_EXTENSION_MAX_DAYS).

    Stripe-billed: Stripe is asked for the new absolute trial end, with an idempotency key
    derived from the current end and the days, so a retried call cannot extend twice; our row
    then follows Stripe's answer. Manual: the row is locked and re-checked, then moved.
    Either way a TRIAL_EXTENDED timeline event and an audit row (old and new end) are
    written. Raises TrialExtensionInvalid when the subscription is not in a trial, and
    NotAuthorized / ApprovalRequired per the staff policy (the amount is the days).
    """
    authority.require(actor, "billing.subscription.extend_trial", amount=days)
    if not _trial_extensible(subscription, days):
        raise errors.TrialExtensionInvalid()
    old = subscription.trial_end
    new_end = old + timedelta(days=days)
    if subscription.billing_source == BillingSource.STRIPE and subscription.stripe_subscription_id:
        key = f"subscription-{subscription.pk}-extend-trial-{int(old.timestamp())}-{days}"
        remote = _stripe_call(stripe_client.update_subscription,
                              subscription.stripe_subscription_id,
                              trial_end=int(new_end.timestamp()), proration_behavior="none",
                              idempotency_key=key)
        with transaction.atomic():
            sub = apply_stripe_subscription(remote, state_at=timezone.now(), source=Source.STAFF,
                                            actor=actor)
            timeline.add(sub, EventType.TRIAL_EXTENDED,
                         f"Your trial was extended until {new_end:%d %B %Y}.",
                         source=Source.STAFF, actor=actor, payload={"days": days})
            audit.record(actor=actor, action=AuditAction.UPDATE, resource=sub,
                         old={"trial_end": old.isoformat()},
                         new={"trial_end": new_end.isoformat()}, operation="extend_trial",
                         days=days)
        return sub
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if not _trial_extensible(sub, days):  # it changed while we waited for the lock
            raise errors.TrialExtensionInvalid()
        old = sub.trial_end
        sub.trial_end = sub.trial_end + timedelta(days=days)
        sub.current_period_end = sub.trial_end
        sub.save()
        timeline.add(sub, EventType.TRIAL_EXTENDED,
                     f"Your trial was extended until {sub.trial_end:%d %B %Y}.",
                     source=Source.STAFF, actor=actor, payload={"days": days})
        audit.record(actor=actor, action=AuditAction.UPDATE, resource=sub,
                     old={"trial_end": old.isoformat()},
                     new={"trial_end": sub.trial_end.isoformat()}, operation="extend_trial")
    return sub


def comp_period(*, subscription: Subscription, actor) -> Subscription:
    """Give the customer the next period free: the next charge moves one interval later,
    and the plan's credits for the free period are granted now (once)."""
    from credits.services import grant_credits

    if subscription.status not in (S.ACTIVE, S.PAST_DUE) or not subscription.current_period_end:
        raise errors.SubscriptionNotChangeable("Only an active subscription can be given a "
                                               "free period.")
    price = subscription.price
    # The size of the gift is what the free period would have cost.
    authority.require(actor, "billing.subscription.comp_period",
                      amount=price.unit_amount * subscription.quantity)
    start = subscription.current_period_end
    new_end = add_interval(start, price.interval, price.interval_count)
    if subscription.billing_source == BillingSource.STRIPE and subscription.stripe_subscription_id:
        # Stripe's documented way to give free time: a trial until the new date.
        remote = _stripe_call(stripe_client.update_subscription,
                              subscription.stripe_subscription_id,
                              trial_end=int(new_end.timestamp()), proration_behavior="none",
                              idempotency_key=f"subscription-{subscription.pk}-comp-"
                                              f"{int(start.timestamp())}")
        with transaction.atomic():
            sub = apply_stripe_subscription(remote, state_at=timezone.now(),
                                            source=Source.STAFF, actor=actor)
    else:
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
            sub.current_period_end = new_end
            sub.save(update_fields=["current_period_end", "updated_at"])
    with transaction.atomic():
        timeline.add(sub, EventType.PERIOD_COMPED,
                     f"You get the period until {new_end:%d %B %Y} free.", source=Source.STAFF,
                     actor=actor)
        if sub.plan.credits_per_period:
            grant_credits(user=sub.user, amount=sub.plan.credits_per_period,
                          source=CREDIT_SOURCE_PLAN, expires_at=new_end,
                          idempotency_key=f"subscription-{sub.pk}-comp-{int(start.timestamp())}",
                          details={"subscription": sub.pk, "comp": True},
                          source_ref=f"subscription-{sub.pk}")
        audit.record(actor=actor, action=AuditAction.UPDATE, resource=sub,
                     operation="comp_period", until=new_end.isoformat())
    return sub


def _locked_subscriptions():
    """Subscriptions for update; only the subscription row is locked (its price may be null,
    and PostgreSQL cannot lock the nullable side of an outer join)."""
    return Subscription.objects.select_for_update(of=("self",))
