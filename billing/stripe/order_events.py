"""What each Stripe event about orders, payments, refunds, disputes, customers and their
cards means for our records. One handler per event type, registered with
``events.handles`` (BillingConfig.ready imports this module)."""

import logging
from datetime import datetime
from typing import Any

from django.utils import timezone
from djstripe.models import Customer

from accounts.models import User
from billing.models import (
    BillingSource,
    CustomerBillingProfile,
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
    WebhookEvent,
)
from billing.services import payments, refunds
from billing.stripe import client as stripe_client
from billing.stripe import mirror as stripe_mirror
from billing.stripe import subscription_events
from billing.stripe.events import handles
from core import audit
from core.ids import parse_id
from core.models import AuditAction

logger = logging.getLogger(__name__)


def _order_for(obj: dict[str, Any]) -> Order | None:
    """Find our order from a session or payment intent: our metadata first, then ids."""
    metadata = obj.get("metadata") or {}
    order_id = parse_id(metadata.get("order_id"))
    if order_id:
        order = Order.objects.filter(pk=order_id).first()
        if order is not None:
            return order
    if obj.get("object") == "checkout.session":
        return Order.objects.filter(stripe_checkout_session_id=obj.get("id")).first()
    if obj.get("object") == "payment_intent":
        return Order.objects.filter(stripe_payment_intent_id=obj.get("id")).first()
    return None


def _stripe_payment(payment_intent: str | None) -> tuple[dict[str, str], str]:
    """(card type/brand/last4, charge id) of the intent's charge (never more), mirroring the
    intent and charge on the way. Read before any lock."""
    if not payment_intent or not stripe_client.is_configured():
        return {}, ""
    intent = stripe_client.retrieve_payment_intent(payment_intent, expand=["latest_charge"])
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict):
        return {}, charge or ""
    stripe_mirror.mirror(charge)
    stripe_mirror.mirror({**intent, "latest_charge": charge.get("id")})
    details = charge.get("payment_method_details")
    if not details:
        return {}, charge.get("id") or ""
    card = details.get(details.get("type") or "", {}) or {}
    return (
        {
            "type": details.get("type") or "",
            "brand": card.get("brand") or "",
            "last4": card.get("last4") or "",
        },
        charge.get("id") or "",
    )


def _pay(
    order: Order, *, amount: int | None, currency: str | None, payment_intent: str | None
) -> None:
    if order.payment_status == "SUCCEEDED":
        return  # already paid: skip the API call; mark_order_paid would be a no-op anyway
    method, charge = _stripe_payment(payment_intent)
    payments.mark_order_paid(
        order_id=order.pk,
        provider=BillingSource.STRIPE,
        provider_id=payment_intent or "",
        amount=int(amount or 0),
        currency=currency or order.currency,
        payment_intent_id=payment_intent,
        method=method,
    )
    # The charge too, so every later event about it finds the payment.
    Payment.objects.filter(
        order=order,
        provider=BillingSource.STRIPE,
        status=Payment.Status.SUCCEEDED,
        stripe_charge_id="",
    ).update(stripe_payment_intent_id=payment_intent or "", stripe_charge_id=charge)


@handles("checkout.session.completed", "checkout.session.async_payment_succeeded")
def checkout_session_paid(event: WebhookEvent, session: dict[str, Any]) -> None:
    if session.get("mode") != "payment":
        return
    order = _order_for(session)
    if order is None:
        logger.info("Checkout session %s has no order here", session.get("id"))
        return
    if session.get("payment_status") in ("paid", "no_payment_required"):
        _pay(
            order,
            amount=session.get("amount_total"),
            currency=session.get("currency"),
            payment_intent=session.get("payment_intent"),
        )
    else:
        # An asynchronous method (bank debit): the money comes later, in another event.
        payments.mark_processing(order_id=order.pk)


@handles("checkout.session.async_payment_failed")
def checkout_session_failed(event: WebhookEvent, session: dict[str, Any]) -> None:
    order = _order_for(session)
    if order is not None:
        payments.record_payment_failed(order_id=order.pk, final=True)


@handles("checkout.session.expired")
def checkout_session_expired(event: WebhookEvent, session: dict[str, Any]) -> None:
    """The customer never paid: cancel the order so its discount use is given back."""
    order = _order_for(session)
    if order is not None and order.status == OrderStatus.PENDING:
        payments.cancel_order(
            order_id=order.pk, actor=None, reason="Stripe Checkout Session expired unpaid."
        )


@handles("payment_intent.succeeded")
def payment_intent_succeeded(event: WebhookEvent, intent: dict[str, Any]) -> None:
    order = _order_for(intent)
    if order is not None:
        _pay(
            order,
            amount=intent.get("amount_received") or intent.get("amount"),
            currency=intent.get("currency"),
            payment_intent=intent.get("id"),
        )


@handles("payment_intent.payment_failed")
def payment_intent_failed(event: WebhookEvent, intent: dict[str, Any]) -> None:
    order = _order_for(intent)
    if order is not None:
        # Not final: the customer may try another card on the same Checkout Session.
        payments.record_payment_failed(order_id=order.pk, final=False)


def _sid(value: str | dict[str, Any] | None) -> str:
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _order_for_intent(payment_intent: str) -> Order | None:
    return Order.objects.filter(stripe_payment_intent_id=payment_intent or "-").first()


def _invoice_payment(event: WebhookEvent, *, charge: str, payment_intent: str) -> Payment | None:
    """The subscription invoice payment a charge belongs to (None for an order's charge or
    one that is not ours), recording its invoice first if that has not reached us yet."""
    if _order_for_intent(payment_intent) is not None:
        return None
    return subscription_events.find_or_fetch_payment(
        charge=charge, payment_intent=payment_intent, event=event
    )


@handles("refund.updated", "refund.created", "refund.failed")
def refund_changed(event: WebhookEvent, refund: dict[str, Any]) -> None:
    payment = _invoice_payment(
        event, charge=_sid(refund.get("charge")), payment_intent=_sid(refund.get("payment_intent"))
    )
    refunds.sync_stripe_refund(refund_obj=refund, payment=payment)


@handles("charge.refunded")
def charge_refunded(event: WebhookEvent, charge: dict[str, Any]) -> None:
    intent = _sid(charge.get("payment_intent"))
    order = _order_for_intent(intent)
    payment = None
    if order is None:
        payment = _invoice_payment(event, charge=charge.get("id") or "", payment_intent=intent)
        if payment is None:
            return
    listed = (charge.get("refunds") or {}).get("data")
    if listed is None:
        # Since API 2022-11-15 a charge does not embed its refunds: ask Stripe for them.
        listed = stripe_client.list_refunds_for_charge(charge["id"])
    for refund_obj in listed:
        stripe_mirror.mirror(refund_obj)
        refunds.sync_stripe_refund(refund_obj=refund_obj, order=order, payment=payment)


@handles("charge.dispute.created")
def dispute_created(event: WebhookEvent, dispute: dict[str, Any]) -> None:
    intent = _sid(dispute.get("payment_intent"))
    found = _order_for_intent(intent)
    if found is None:
        payment = _invoice_payment(event, charge=_sid(dispute.get("charge")), payment_intent=intent)
        if payment is not None:
            refunds.record_invoice_dispute(payment=payment, dispute=dispute)
        return
    order = Order.objects.select_for_update().get(pk=found.pk)
    disputes = dict(order.metadata.get("disputes") or {})
    if dispute["id"] in disputes:
        return
    disputes[dispute["id"]] = {
        "amount": dispute.get("amount"),
        "reason": dispute.get("reason"),
        "status": dispute.get("status"),
        "event": event.stripe_event_id,
    }
    order.metadata = {**order.metadata, "disputes": disputes}
    order.internal_notes = (
        order.internal_notes + f"\nDispute {dispute['id']} opened ({dispute.get('reason')})."
    ).strip()
    order.save(update_fields=["metadata", "internal_notes", "updated_at"])
    audit.record(
        actor=None,
        action=AuditAction.OTHER,
        resource=order,
        operation="dispute",
        dispute=dispute["id"],
        reason=dispute.get("reason") or "",
    )


@handles("charge.dispute.closed")
def dispute_closed(event: WebhookEvent, dispute: dict[str, Any]) -> None:
    refunds.close_invoice_dispute(dispute=dispute)


def _event_time(event: WebhookEvent) -> datetime:
    return event.event_created or timezone.now()


@handles("customer.updated")
def customer_updated(event: WebhookEvent, customer: dict[str, Any]) -> None:
    profile = CustomerBillingProfile.objects.filter(stripe_customer_id=customer.get("id")).first()
    when = _event_time(event)
    if profile is None or (profile.stripe_updated_at and profile.stripe_updated_at >= when):
        return  # not ours, or an older event than the state we hold
    # dj-stripe may call Stripe (it looks up the account): do it before taking the row lock.
    mirror = _mirror_customer(customer)
    profile = CustomerBillingProfile.objects.select_for_update().get(pk=profile.pk)
    if profile.stripe_updated_at and profile.stripe_updated_at >= when:
        return
    profile.billing_email = customer.get("email") or profile.billing_email
    profile.billing_name = customer.get("name") or ""
    profile.billing_address = customer.get("address") or {}
    profile.stripe_updated_at = when
    profile.djstripe_customer = mirror or profile.djstripe_customer
    profile.save()
    default = (customer.get("invoice_settings") or {}).get("default_payment_method")
    PaymentMethod.objects.filter(user=profile.user).exclude(
        stripe_payment_method_id=default or ""
    ).update(is_default=False)
    if default:
        PaymentMethod.objects.filter(user=profile.user, stripe_payment_method_id=default).update(
            is_default=True
        )


def _mirror_customer(customer: dict[str, Any]) -> Customer | None:
    """dj-stripe's row for the customer (written by ``dispatch`` from this payload), if
    Stripe is configured and it could be written."""
    return Customer.objects.filter(id=customer.get("id") or "-").first()


def _user_for_customer(customer_id: str | None) -> User | None:
    profile = CustomerBillingProfile.objects.filter(stripe_customer_id=customer_id or "-").first()
    return profile.user if profile else None


@handles("payment_method.attached", "payment_method.detached", "payment_method.updated")
def payment_method_changed(event: WebhookEvent, method: dict[str, Any]) -> None:
    """Attach and detach may arrive in either order, so neither payload is believed: the
    current object is read back from Stripe and our row made to match it."""
    current = stripe_client.retrieve_payment_method(method["id"])
    stripe_mirror.mirror(current)
    user = _user_for_customer(current.get("customer"))
    if user is None:
        PaymentMethod.objects.filter(stripe_payment_method_id=method["id"]).delete()
        return
    card = current.get("card") or {}
    PaymentMethod.objects.update_or_create(
        stripe_payment_method_id=method["id"],
        defaults={
            "user": user,
            "type": current.get("type") or "card",
            "brand": card.get("brand") or "",
            "last4": card.get("last4") or "",
            "exp_month": card.get("exp_month"),
            "exp_year": card.get("exp_year"),
            "billing_details": current.get("billing_details") or {},
        },
    )
    # customer.updated may have named this card the default before it reached us: the
    # customer's mirrored Stripe object says which card is the default.
    profile = (
        CustomerBillingProfile.objects.filter(user=user).select_related("djstripe_customer").first()
    )
    mirrored = getattr(profile, "djstripe_customer", None)
    default = ((getattr(mirrored, "stripe_data", None) or {}).get("invoice_settings") or {}).get(
        "default_payment_method"
    )
    if isinstance(default, dict):
        default = default.get("id")
    if default == method["id"]:
        PaymentMethod.objects.filter(user=user).exclude(stripe_payment_method_id=default).update(
            is_default=False
        )
        PaymentMethod.objects.filter(stripe_payment_method_id=default).update(is_default=True)
