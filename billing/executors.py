"""Billing's staff actions that may need a second person, as the staff policy carries them out.

Staff pages call ``accounts.authority.perform`` with one of these action keys; within the
staff member's limit the executor runs at once, above it after a second staff member
approves (with that person as the actor). Each executor goes through billing's own service,
which checks the policy again.
"""

from datetime import date, datetime, time

from django.utils import timezone

from accounts import authority
from billing.models import Invoice, Order, Subscription
from billing.services import invoices, payments
from billing.services.subscriptions import lifecycle as subscriptions
from core.api import DomainError


def received_at(payload) -> datetime | None:
    """When a bank transfer came in, from the payload's ``paid_on`` (an ISO date): None (now)
    for today or none given, else midday of that day in the site's time zone."""
    paid_on = payload.get("paid_on")
    if not paid_on:
        return None
    day = date.fromisoformat(paid_on)
    if day == timezone.localdate():
        return None
    return timezone.make_aware(datetime.combine(day, time(12)))  # the service refuses a future one


def mark_order_paid_executor(*, payload, actor, approval) -> dict:
    order = payments.mark_paid_manually(
        order_id=int(payload["order_id"]),
        actor=actor,
        reference=payload.get("reference", ""),
        paid_at=received_at(payload),
        amount=payload.get("amount"),
    )
    return {"order": order.number, "payment_status": order.payment_status}


def mark_invoice_paid_executor(*, payload, actor, approval) -> dict:
    invoice = invoices.mark_invoice_paid(
        invoice_id=int(payload["invoice_id"]),
        actor=actor,
        reference=payload.get("reference", ""),
        paid_at=received_at(payload),
        amount=payload.get("amount"),
    )
    return {"invoice": invoice.number, "status": invoice.status}


def comp_period_executor(*, payload, actor, approval) -> dict:
    subscription = Subscription.objects.get(pk=int(payload["subscription_id"]))
    subscription = subscriptions.comp_period(subscription=subscription, actor=actor)
    return {
        "subscription_id": subscription.pk,
        "current_period_end": subscription.current_period_end.isoformat(),
    }


def _exists(model, key):
    def check(payload):
        if not model.objects.filter(pk=payload.get(key)).exists():
            raise authority.UnknownAction(
                f"No {model._meta.verbose_name} {payload.get(key)}.", code="not_found"
            )

    return check


def _payment_received(model, key):
    """A mark-paid payload: the row exists; the amount received, when given, is a whole
    number of minor units above zero; ``paid_on`` an ISO date not in the future; the
    reference text. Checked before anything is recorded."""
    exists = _exists(model, key)

    def check(payload):
        exists(payload)
        amount = payload.get("amount")
        if amount is not None and (
            isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0
        ):
            raise DomainError(
                "The amount received must be a whole number of minor units above zero.",
                code="invalid_payload",
            )
        try:
            day = date.fromisoformat(payload["paid_on"]) if payload.get("paid_on") else None
        except (TypeError, ValueError):
            raise DomainError(
                "The date received must be a date (YYYY-MM-DD).", code="invalid_payload"
            ) from None
        if day is not None and day > timezone.localdate():
            raise DomainError("The date received cannot be in the future.", code="invalid_payload")
        if not isinstance(payload.get("reference", ""), str):
            raise DomainError("The bank reference must be text.", code="invalid_payload")

    return check


def register() -> None:
    authority.register_executor(
        "billing.order.mark_paid",
        mark_order_paid_executor,
        check=_payment_received(Order, "order_id"),
    )
    authority.register_executor(
        "billing.invoice.mark_paid",
        mark_invoice_paid_executor,
        check=_payment_received(Invoice, "invoice_id"),
    )
    # Stripe-billed subscriptions are updated at Stripe: runs after the decision commits.
    authority.register_executor(
        "billing.subscription.comp_period",
        comp_period_executor,
        check=_exists(Subscription, "subscription_id"),
        calls_network=True,
    )
