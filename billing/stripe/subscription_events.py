"""Stripe subscription and invoice events (registered with ``events.handles``; BillingConfig.ready
imports this module).

Subscription events apply the subscription object as of the event's ``created`` time (older
states are ignored). Invoice events mirror the invoice (its status only moves forward) and:
``invoice.paid`` grants the period's plan credits once and recovers a past-due subscription;
``invoice.payment_failed`` moves it to PAST_DUE (one e-mail). An invoice whose subscription
we have not seen yet is resolved by reading the subscription back from Stripe.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import (
    BillingSource,
    Invoice,
    InvoiceStatus,
    Payment,
    Subscription,
    SubscriptionStatus,
    WebhookEvent,
)
from billing.services import timeline
from billing.services.fulfilment import verify_subscriber_reviews
from billing.services.invoices import RANK
from billing.services.numbers import next_number
from billing.services.period_credits import grant_period_credits
from billing.services.subscriptions import discount_codes
from billing.services.subscriptions.state import STATUS_WORDS, email_past_due, timestamp
from billing.services.subscriptions.stripe_adapter import apply_stripe_subscription
from billing.services.timeline import EventType, Source
from billing.stripe import client as stripe_client
from billing.stripe import invoice_payments
from billing.stripe import mirror as stripe_mirror
from billing.stripe.events import handles
from core.ids import parse_id
from core.money import format_money

logger = logging.getLogger(__name__)
S = SubscriptionStatus
PAID_STATUSES = (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED, InvoiceStatus.REFUNDED)


def _when(event: WebhookEvent) -> datetime:
    return event.event_created or timezone.now()


@handles(
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
)
def subscription_changed(event: WebhookEvent, obj: dict) -> None:
    apply_stripe_subscription(obj, state_at=_when(event), stripe_event_id=event.stripe_event_id)


@handles("customer.subscription.trial_will_end")
def trial_will_end(event: WebhookEvent, obj: dict) -> None:
    sub = apply_stripe_subscription(
        obj, state_at=_when(event), stripe_event_id=event.stripe_event_id
    )
    if (
        sub is None
        or sub.events.filter(
            stripe_event_id=event.stripe_event_id, type=EventType.TRIAL_WILL_END
        ).exists()
    ):
        return
    end = sub.trial_end
    timeline.add(
        sub,
        EventType.TRIAL_WILL_END,
        f"Your trial ends on {end:%d %B %Y}." if end else "Your trial ends soon.",
        source=Source.STRIPE,
        stripe_event_id=event.stripe_event_id,
    )


@handles("checkout.session.completed")
def subscription_checkout_completed(event: WebhookEvent, session: dict) -> None:
    """The customer finished Checkout: read the new subscription back from Stripe."""
    if session.get("mode") != "subscription" or not session.get("subscription"):
        return
    sub_id = session["subscription"]
    sub_id = sub_id["id"] if isinstance(sub_id, dict) else sub_id
    if Subscription.objects.filter(stripe_subscription_id=sub_id).exists():
        return
    remote = stripe_client.retrieve_subscription(sub_id)
    stripe_mirror.mirror(remote)
    apply_stripe_subscription(remote, state_at=_when(event), stripe_event_id=event.stripe_event_id)


@handles("checkout.session.expired")
def subscription_checkout_expired(event: WebhookEvent, session: dict) -> None:
    if session.get("mode") != "subscription":
        return
    local_id = parse_id((session.get("metadata") or {}).get("subscription_id"))
    if local_id:
        for sub in Subscription.objects.select_for_update().filter(
            pk=int(local_id), status=S.INCOMPLETE, stripe_subscription_id__isnull=True
        ):
            sub.status = S.INCOMPLETE_EXPIRED
            sub.save(update_fields=["status", "updated_at"])
            discount_codes.release(sub)
            timeline.add(
                sub,
                EventType.STATUS_CHANGED,
                STATUS_WORDS[S.INCOMPLETE_EXPIRED],
                source=Source.STRIPE,
                stripe_event_id=event.stripe_event_id,
            )


def _subscription_id(invoice: dict) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    value = details.get("subscription") or invoice.get("subscription")
    if isinstance(value, dict):
        value = value.get("id")
    return value or None


def _subscription_for(invoice: dict, event: WebhookEvent) -> Subscription | None:
    sub_id = _subscription_id(invoice)
    if not sub_id:
        return None
    sub = Subscription.objects.filter(stripe_subscription_id=sub_id).first()
    if sub is None and stripe_client.is_configured():
        # The invoice arrived before the subscription's own events: read it back.
        remote = stripe_client.retrieve_subscription(sub_id)
        stripe_mirror.mirror(remote)
        sub = apply_stripe_subscription(
            remote, state_at=_when(event), stripe_event_id=event.stripe_event_id
        )
    return sub


def _invoice_values(obj: dict, sub: Subscription) -> dict:
    """Our invoice's fields from Stripe's invoice ``obj`` (all but its number and status)."""
    lines = (obj.get("lines") or {}).get("data") or []
    periods = [line.get("period") or {} for line in lines]
    taxes = sum(int(t.get("amount") or 0) for t in (obj.get("total_taxes") or []))
    discounts = sum(int(d.get("amount") or 0) for d in (obj.get("total_discount_amounts") or []))
    total = max(0, int(obj.get("total") or 0))
    transitions = obj.get("status_transitions") or {}
    due = timestamp(obj.get("due_date"))
    return {
        "user": sub.user,
        "subscription": sub,
        "billing_source": BillingSource.STRIPE,
        "currency": obj.get("currency") or _price_currency(sub),
        "lines": [
            {
                "description": line.get("description") or "",
                "quantity": line.get("quantity") or 1,
                "amount": int(line.get("amount") or 0),
                "period": line.get("period") or {},
            }
            for line in lines
        ],
        "subtotal": max(0, int(obj.get("subtotal") or 0)),
        "discount_amount": discounts,
        "tax": taxes,
        "total": total,
        "amount_paid": min(total, int(obj.get("amount_paid") or 0)),
        "amount_due": max(0, int(obj.get("amount_due") or 0)),
        "period_start": timestamp(min((p.get("start") or 0 for p in periods), default=0)),
        "period_end": timestamp(max((p.get("end") or 0 for p in periods), default=0)),
        "due_date": due.date() if due else None,
        "paid_at": timestamp(transitions.get("paid_at")),
        "finalized_at": timestamp(transitions.get("finalized_at")),
        "voided_at": timestamp(transitions.get("voided_at")),
        "stripe_number": obj.get("number") or "",
        "hosted_invoice_url": obj.get("hosted_invoice_url") or "",
        "billing_reason": obj.get("billing_reason") or "",
    }


def _price_currency(sub: Subscription) -> str:
    """The currency of the subscription's price, for a Stripe invoice that names none."""
    if sub.price is None:
        raise ValueError(f"Subscription {sub.pk} has no price to take a currency from.")
    return sub.price.currency


def _mirror_invoice(
    obj: dict, sub: Subscription, event: WebhookEvent
) -> tuple[Invoice, str | None]:
    """Create or update our copy of a Stripe invoice. Returns (invoice, old_status)."""
    status = (obj.get("status") or "draft").upper()
    status = status if status in InvoiceStatus.values else InvoiceStatus.DRAFT
    values = _invoice_values(obj, sub)
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=obj["id"]).first()
    if invoice is None:
        try:
            with transaction.atomic():
                invoice = Invoice.objects.create(
                    number=next_number("INV"),
                    stripe_invoice_id=obj["id"],
                    status=status,
                    stripe_state_at=_when(event),
                    **values,
                )
            return invoice, None
        except IntegrityError:
            # Another event for the same invoice inserted it first (and has committed, since
            # the unique index made us wait): continue as an update under its row lock.
            invoice = Invoice.objects.select_for_update().get(stripe_invoice_id=obj["id"])
    old = invoice.status
    if RANK[InvoiceStatus(status)] < RANK[InvoiceStatus(old)] or (
        invoice.stripe_state_at
        and _when(event) < invoice.stripe_state_at
        and RANK[InvoiceStatus(status)] == RANK[InvoiceStatus(old)]
    ):
        return invoice, old  # an older state: keep what we hold
    for name, value in values.items():
        setattr(invoice, name, value)
    invoice.status, invoice.stripe_state_at = status, _when(event)
    invoice.save()
    return invoice, old


@handles(
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.marked_uncollectible",
    "invoice.voided",
    "invoice.updated",
)
def invoice_changed(event: WebhookEvent, obj: dict) -> None:
    sub = _subscription_for(obj, event)
    if sub is None:
        return
    # Which PaymentIntent and charge paid it: read from Stripe before any row lock.
    refs = invoice_payments.stripe_refs(obj) if obj.get("status") == "paid" else None
    invoice, old = _mirror_invoice(obj, sub, event)
    sub = Subscription.objects.for_update().select_related("plan", "user").get(pk=sub.pk)
    eid = event.stripe_event_id

    def add(type_: str, message: str) -> None:
        timeline.add(
            sub,
            type_,
            message,
            source=Source.STRIPE,
            stripe_event_id=eid,
            payload={"invoice": invoice.number},
        )

    amount = format_money(invoice.total, invoice.currency)
    if old is None and invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        add(EventType.INVOICE_CREATED, f"Invoice {invoice.number} for {amount} was issued.")
    if refs is not None and invoice.status in PAID_STATUSES:
        invoice_payments.record(invoice=invoice, refs=refs, paid_at=invoice.paid_at or _when(event))
    if invoice.status == InvoiceStatus.PAID and old != InvoiceStatus.PAID:
        add(EventType.INVOICE_PAID, f"Invoice {invoice.number} ({amount}) was paid.")
        grant_period_credits(invoice=invoice, subscription=sub)
        verify_subscriber_reviews(invoice=invoice, subscription=sub)
        if sub.status in (S.PAST_DUE, S.UNPAID):
            _active_again(sub, event)
    elif event.type == "invoice.payment_failed" and invoice.status not in PAID_STATUSES:
        if not sub.events.filter(stripe_event_id=eid, type=EventType.PAYMENT_FAILED).exists():
            add(
                EventType.PAYMENT_FAILED,
                f"The payment of invoice {invoice.number} ({amount}) "
                "failed. Please update your payment method.",
            )
        if sub.status in (S.ACTIVE, S.TRIALING):
            _past_due(sub, event)
    elif (
        event.type == "invoice.payment_action_required"
        and not sub.events.filter(
            stripe_event_id=eid, type=EventType.PAYMENT_ACTION_REQUIRED
        ).exists()
    ):
        add(
            EventType.PAYMENT_ACTION_REQUIRED,
            f"Your bank asks you to confirm the payment of invoice {invoice.number}.",
        )
    elif invoice.status == InvoiceStatus.UNCOLLECTIBLE and old != InvoiceStatus.UNCOLLECTIBLE:
        add(EventType.UNCOLLECTIBLE, f"Invoice {invoice.number} could not be collected.")
    elif invoice.status == InvoiceStatus.VOID and old != InvoiceStatus.VOID:
        add(EventType.INVOICE_VOIDED, f"Invoice {invoice.number} was cancelled.")


def _active_again(sub: Subscription, event: WebhookEvent) -> None:
    """A past-due or unpaid subscription whose invoice is paid is active again, unless our
    row already holds a newer state."""
    if sub.stripe_state_at and _when(event) < sub.stripe_state_at:
        return
    old_status = sub.status
    sub.status, sub.past_due_since, sub.stripe_state_at = S.ACTIVE, None, _when(event)
    sub.save(update_fields=["status", "past_due_since", "stripe_state_at", "updated_at"])
    timeline.add(
        sub,
        EventType.STATUS_CHANGED,
        "Payment received: your subscription is active again.",
        source=Source.STRIPE,
        stripe_event_id=event.stripe_event_id,
        payload={"old": old_status},
    )


def _past_due(sub: Subscription, event: WebhookEvent) -> None:
    """An active or trialing subscription whose payment failed is past due (the customer is
    e-mailed), unless our row already holds a newer state."""
    if sub.stripe_state_at and _when(event) < sub.stripe_state_at:
        return
    old_status = sub.status
    sub.status, sub.stripe_state_at = S.PAST_DUE, _when(event)
    sub.past_due_since = sub.past_due_since or _when(event)
    sub.save(update_fields=["status", "past_due_since", "stripe_state_at", "updated_at"])
    timeline.add(
        sub,
        EventType.STATUS_CHANGED,
        STATUS_WORDS[S.PAST_DUE],
        source=Source.STRIPE,
        stripe_event_id=event.stripe_event_id,
        payload={"old": old_status},
    )
    email_past_due(sub)


def find_or_fetch_payment(
    *, charge: str, payment_intent: str, event: WebhookEvent
) -> Payment | None:
    """``invoice_payments.find``, and when the charge's invoice has not reached us yet
    (events arrive in any order) ask Stripe which invoice that payment paid and record that
    invoice first. None for a charge that paid no invoice (a one-time order, or not ours)."""
    payment = invoice_payments.find(charge=charge, payment_intent=payment_intent)
    if payment is not None or not payment_intent or not stripe_client.is_configured():
        return payment
    listed = stripe_client.list_invoice_payments(payment_intent=payment_intent)
    invoice_id = next(
        (invoice_payments.object_id(p.get("invoice")) for p in listed if p.get("invoice")), ""
    )
    if not invoice_id:
        return None
    invoice_changed(event, stripe_client.retrieve_invoice(invoice_id))
    return invoice_payments.find(charge=charge, payment_intent=payment_intent)
