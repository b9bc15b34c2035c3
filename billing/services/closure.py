"""Deleting an account settles its billing first: nothing keeps running for a deleted user.

``settle_for_account_deletion`` cancels the account's subscriptions at once (Stripe-billed
ones at Stripe, through the same cancel path a customer uses), voids its open invoices
(Stripe's at Stripe) and cancels the unpaid orders those invoices belong to, and erases the
billing addresses copied onto its orders. ``deletion_preview`` says the same in plain words
for the delete page before the customer confirms. Both are registered with
``accounts.deletion`` in BillingConfig.ready(); accounts calls them without importing billing.

These are the system's moves (``actor=None``); the audit rows carry the reason.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from billing import errors
from billing.models import (
    BillingSource,
    Invoice,
    InvoiceStatus,
    Order,
    Subscription,
    SubscriptionStatus,
)
from billing.services import invoices as invoice_service
from billing.services import payments, timeline
from billing.services.subscriptions import lifecycle, stripe_adapter
from billing.services.timeline import EventType, Source
from billing.stripe import client as stripe_client
from core import audit
from core.models import AuditAction
from core.money import format_money

logger = logging.getLogger(__name__)

REASON = "account deleted"
# What Stripe calls a subscription or an invoice that is settled: nothing left to cancel.
STRIPE_SUBSCRIPTION_ENDED = ("canceled", "incomplete_expired")
STRIPE_INVOICE_SETTLED = ("void", "paid", "uncollectible")


def subscriptions_to_cancel(user: User) -> QuerySet[Subscription]:
    """The subscriptions that could still bill ``user``: live ones, and those still waiting
    for their first payment."""
    return (
        Subscription.objects.filter(
            user=user, status__in=[*Subscription.LIVE_STATUSES, SubscriptionStatus.INCOMPLETE]
        )
        .select_related("plan")
        .order_by("created_at", "pk")
    )


def invoices_to_void(user: User) -> QuerySet[Invoice]:
    """What ``user`` still owes: open invoices, and manual drafts that would become open."""
    return (
        Invoice.objects.filter(user=user)
        .filter(
            Q(status=InvoiceStatus.OPEN)
            | Q(status=InvoiceStatus.DRAFT, billing_source=BillingSource.MANUAL)
        )
        .order_by("created_at", "pk")
    )


def deletion_preview(user: User) -> list[str]:
    """Plain sentences for the delete page: what deleting the account does to its billing."""
    lines = []
    for sub in subscriptions_to_cancel(user):
        lines.append(
            f"Your {sub.plan.name} subscription ({sub.get_status_display().lower()}) "
            "will be cancelled at once; the rest of the current period is not "
            "refunded."
        )
    for invoice in invoices_to_void(user):
        due = f", due {invoice.due_date:%d %B %Y}" if invoice.due_date else ""
        lines.append(
            f"Invoice {invoice.number} for "
            f"{format_money(invoice.amount_due, invoice.currency)}{due} will be "
            "voided: you will not have to pay it."
        )
    return lines


def settle_for_account_deletion(user: User) -> dict:
    """Cancel ``user``'s subscriptions now, void what they owe, erase their order addresses.

    Called by accounts' deletion before the account is anonymised, outside any transaction.
    Stripe comes first (its subscriptions, then its invoices): if Stripe refuses or cannot be
    reached, PaymentProviderError is raised and the deletion stops with nothing else changed
    here (what Stripe already cancelled stays cancelled). Safe to run again: what is already
    settled is skipped. Returns (and logs) what was done, by id.
    """
    subs = list(subscriptions_to_cancel(user))
    owed = list(invoices_to_void(user))
    at_stripe = [sub for sub in subs if _on_stripe(sub)]
    stripe_invoices = [
        invoice
        for invoice in owed
        if invoice.billing_source == BillingSource.STRIPE and invoice.stripe_invoice_id
    ]
    canceled = [sub.pk for sub in at_stripe if _cancel_now(sub)]
    voided = [invoice.pk for invoice in stripe_invoices if _void_at_stripe(invoice)]
    canceled += [sub.pk for sub in subs if sub not in at_stripe and _cancel_now(sub)]
    voided += [
        invoice.pk for invoice in owed if invoice not in stripe_invoices and _void_manual(invoice)
    ]
    done = {
        "subscriptions_canceled": canceled,
        "invoices_voided": voided,
        "order_addresses_erased": _erase_order_addresses(user),
    }
    logger.info("Billing settled for the deletion of account %s: %s", user.pk, done)
    return done


def _on_stripe(sub: Subscription) -> bool:
    return bool(sub.billing_source == BillingSource.STRIPE and sub.stripe_subscription_id)


def _cancel_now(sub: Subscription) -> bool:
    try:
        lifecycle.cancel(subscription=sub, at_period_end=False, actor=None, reason=REASON)
    except errors.SubscriptionNotCancelable:
        return False  # it ended meanwhile
    except errors.StripeNotConfigured as exc:
        raise errors.PaymentProviderError() from exc
    except errors.PaymentProviderError:
        # Stripe refuses to cancel what it already ended (our copy has not heard yet).
        if not _on_stripe(sub) or not _ended_at_stripe(sub):
            raise
    return True


def _ended_at_stripe(sub: Subscription) -> bool:
    assert sub.stripe_subscription_id is not None  # called only when _on_stripe(sub)
    try:
        remote = stripe_client.retrieve_subscription(sub.stripe_subscription_id)
    except (stripe_client.StripeUnavailable, stripe_client.stripe.StripeError):
        return False
    if remote.get("status") not in STRIPE_SUBSCRIPTION_ENDED:
        return False
    with transaction.atomic():
        stripe_adapter.apply_stripe_subscription(
            remote, state_at=timezone.now(), source=Source.SYSTEM
        )
    return True


def _void_at_stripe(invoice: Invoice) -> bool:
    stripe_invoice_id = invoice.stripe_invoice_id
    assert stripe_invoice_id is not None  # called only for invoices with a Stripe id
    remote: dict[str, Any] | None
    try:
        remote = stripe_client.void_invoice(
            stripe_invoice_id, idempotency_key=f"invoice-{invoice.pk}-void-closure"
        )
    except stripe_client.StripeUnavailable as exc:
        raise errors.PaymentProviderError() from exc
    except stripe_client.stripe.StripeError as exc:
        # Paid, voided or written off at Stripe meanwhile: settled; the webhook brings it.
        remote = _stripe_invoice_or_none(stripe_invoice_id)
        if remote is None or remote.get("status") not in STRIPE_INVOICE_SETTLED:
            raise errors.PaymentProviderError() from exc
    if remote.get("status") != "void":
        return False
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status not in (InvoiceStatus.OPEN, InvoiceStatus.DRAFT):
            return False
        old = locked.status
        voided_at = (remote.get("status_transitions") or {}).get("voided_at")
        locked.status, locked.amount_due = InvoiceStatus.VOID, 0
        locked.voided_at = (
            datetime.fromtimestamp(voided_at, tz=UTC) if voided_at else timezone.now()
        )
        locked.save()
        if locked.subscription is not None:
            timeline.add(
                locked.subscription,
                EventType.INVOICE_VOIDED,
                f"Invoice {locked.number} was cancelled.",
                source=Source.SYSTEM,
                payload={"invoice": locked.number},
            )
        audit.record(
            actor=None,
            action=AuditAction.STATUS_CHANGE,
            resource=locked,
            old={"status": old},
            new={"status": InvoiceStatus.VOID},
            operation="invoice_void",
            reason=REASON,
        )
    return True


def _stripe_invoice_or_none(invoice_id: str) -> dict[str, Any] | None:
    try:
        return stripe_client.retrieve_invoice(invoice_id)
    except (stripe_client.StripeUnavailable, stripe_client.stripe.StripeError):
        return None


def _void_manual(invoice: Invoice) -> bool:
    try:
        invoice_service.void_invoice(invoice_id=invoice.pk, actor=None, reason=REASON)
    except errors.InvoiceStateInvalid:
        return False  # paid meanwhile: nothing owed
    if invoice.order_id:
        # An order whose invoice is void can no longer be paid: cancel it too (its discount
        # use is given back).
        try:
            payments.cancel_order(order_id=invoice.order_id, actor=None, reason=REASON)
        except errors.OrderNotCancellable:
            logger.info("Order %s of a deleted account was not cancellable", invoice.order_id)
    return True


def _erase_order_addresses(user: User) -> int:
    with transaction.atomic():
        holding = Q(billing_address__isnull=False) | ~Q(shipping_address={})
        erased = Order.objects.filter(holding, user=user).update(
            billing_address=None, shipping_address={}, updated_at=timezone.now()
        )
        if erased:
            audit.record(
                actor=None,
                action=AuditAction.UPDATE,
                resource_type="billing.Order",
                new={"billing_address": "[erased]"},
                orders=erased,
                user_id=user.pk,
                reason=REASON,
            )
    return erased
