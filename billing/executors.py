"""Billing's staff actions that may need a second person, as the staff policy carries them out.

Staff pages call ``accounts.authority.perform`` with one of these action keys; within the
staff member's limit the executor runs at once, above it after a second staff member
approves (with that person as the actor). Each executor goes through billing's own service,
which checks the policy again.
"""

from datetime import date, datetime, time

from django.utils import timezone

from accounts import authority
from billing.errors import StaffActionRefused
from billing.models import Invoice, Order, Subscription, SubscriptionStatus
from billing.services import invoices, payments
from billing.services.refunds import create_invoice_refund, create_refund
from billing.services.subscriptions import lifecycle as subscriptions
from billing.services.subscriptions.state import TRIAL_EXTENSION_MAX_DAYS
from core.api import DomainError
from core.ids import parse_id


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
    period_end = subscription.current_period_end
    assert period_end is not None  # a comped period always ends
    return {
        "subscription_id": subscription.pk,
        "current_period_end": period_end.isoformat(),
    }


def refund_order_executor(*, payload, actor, approval) -> dict:
    """Refund part or all of the ticket customer's order through billing's own service
    (which reserves the amount under the order lock and calls Stripe only after commit).
    The order must belong to ``payload["user_id"]``: a payload naming someone else's order
    is refused."""

    if payload.get("invoice_id"):  # a subscription invoice's payment, same rules
        invoice_id = int(payload["invoice_id"])
        if not Invoice.objects.filter(pk=invoice_id, user_id=payload["user_id"]).exists():
            raise StaffActionRefused(
                "That invoice does not belong to this customer.", code="invoice_not_customers"
            )
        refund = create_invoice_refund(
            invoice_id=invoice_id,
            amount=int(payload["amount"]),
            reason=payload["reason"],
            actor=actor,
            notes=payload.get("notes") or f"Support approval {approval.pk}",
        )
        return {"refund_id": refund.pk, "refund_status": refund.status}
    order_id = int(payload["order_id"])
    if not Order.objects.filter(pk=order_id, user_id=payload["user_id"]).exists():
        raise StaffActionRefused(
            "That order does not belong to this customer.", code="order_not_customers"
        )
    refund = create_refund(
        order_id=order_id,
        amount=int(payload["amount"]),
        reason=payload["reason"],
        actor=actor,
        notes=payload.get("notes") or f"Support approval {approval.pk}",
    )
    return {"refund_id": refund.pk, "refund_status": refund.status}


# Trial extensions are sized in days (the support desk's threshold is the system setting
# support_trial_approval_threshold_days, support/config_keys.py).


def check_trial_extension(payload) -> None:
    """Refuse a trial extension billing would refuse, before anything is recorded: the
    subscription must be the customer's (``payload["user_id"]``) and trialing, the days a
    whole number in 1..TRIAL_EXTENSION_MAX_DAYS, and its trial must still end where it did
    when the request was made (``payload["trial_end"]``), so that a request approved late, or
    retried after Stripe accepted it, never extends the same trial twice."""
    _trialing_subscription(payload)


def _trialing_subscription(payload):
    days = payload.get("days")
    if (
        isinstance(days, bool)
        or not isinstance(days, int)
        or not (1 <= days <= TRIAL_EXTENSION_MAX_DAYS)
    ):
        raise StaffActionRefused(
            f"A trial is extended by 1 to {TRIAL_EXTENSION_MAX_DAYS} days.",
            code="invalid_trial_days",
        )
    subscription_id = payload.get("subscription_id")
    subscription = None
    if (
        isinstance(subscription_id, int)
        and not isinstance(subscription_id, bool)
        and parse_id(subscription_id)
    ):
        subscription = Subscription.objects.filter(
            pk=subscription_id, user_id=payload.get("user_id")
        ).first()
    if subscription is None:
        raise StaffActionRefused(
            "That subscription does not belong to this customer.", code="subscription_not_customers"
        )
    if subscription.status != SubscriptionStatus.TRIALING or subscription.trial_end is None:
        raise StaffActionRefused(
            f"Subscription #{subscription.pk} is {subscription.get_status_display()}, not in "
            "a trial: only a trialing subscription can have its trial extended.",
            code="subscription_not_trialing",
        )
    try:
        requested_end = datetime.fromisoformat(payload["trial_end"])
    except (KeyError, TypeError, ValueError):
        raise StaffActionRefused(
            "The request must say where the trial ended when it was made.", code="invalid_payload"
        ) from None
    if requested_end != subscription.trial_end:
        raise StaffActionRefused(
            f"Subscription #{subscription.pk}'s trial end changed since this was requested "
            f"(now {subscription.trial_end:%Y-%m-%d %H:%M} UTC): request the extension again.",
            code="trial_changed",
        )
    return subscription


def extend_trial_executor(*, payload, actor, approval) -> dict:
    """Extend the ticket customer's trial through billing's own service, which validates
    again, records the TRIAL_EXTENDED timeline event and its audit row, and, for a
    Stripe-managed subscription, updates Stripe first (synchronously: hence
    ``calls_network``, so this runs after the approval's decision commits, holding no lock)."""

    subscription = _trialing_subscription(payload)
    old_end = subscription.trial_end
    subscription = subscriptions.extend_trial(
        subscription=subscription, days=payload["days"], actor=actor
    )
    return {
        "subscription_id": subscription.pk,
        "days": payload["days"],
        "old_trial_end": old_end.isoformat(),
        "trial_end": subscription.trial_end.isoformat() if subscription.trial_end else None,
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
    authority.register_executor("billing.refund", refund_order_executor)
    authority.register_executor(
        "billing.subscription.extend_trial",
        extend_trial_executor,
        check=check_trial_extension,
        calls_network=True,
    )
