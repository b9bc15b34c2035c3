"""Billing's staff actions that may need a second person, as the staff policy carries them out.

Staff pages call ``accounts.authority.perform`` with one of these action keys; within the
staff member's limit the executor runs at once, above it after a second staff member
approves (with that person as the actor). Each executor goes through billing's own service,
which checks the policy again.
"""

from accounts import authority
from billing.models import Invoice, Order, Subscription
from billing.services import invoices, payments, subscriptions


def mark_order_paid_executor(*, payload, actor, approval) -> dict:
    order = payments.mark_paid_manually(order_id=int(payload["order_id"]), actor=actor,
                                        reference=payload.get("reference", ""))
    return {"order": order.number, "payment_status": order.payment_status}


def mark_invoice_paid_executor(*, payload, actor, approval) -> dict:
    invoice = invoices.mark_invoice_paid(invoice_id=int(payload["invoice_id"]), actor=actor,
                                         reference=payload.get("reference", ""))
    return {"invoice": invoice.number, "status": invoice.status}


def comp_period_executor(*, payload, actor, approval) -> dict:
    subscription = Subscription.objects.get(pk=int(payload["subscription_id"]))
    subscription = subscriptions.comp_period(subscription=subscription, actor=actor)
    return {"subscription_id": subscription.pk,
            "current_period_end": subscription.current_period_end.isoformat()}


def _exists(model, key):
    def check(payload):
        if not model.objects.filter(pk=payload.get(key)).exists():
            raise authority.UnknownAction(f"No {model._meta.verbose_name} {payload.get(key)}.",
                                          code="not_found")
    return check


def register() -> None:
    authority.register_executor("billing.order.mark_paid", mark_order_paid_executor,
                                check=_exists(Order, "order_id"))
    authority.register_executor("billing.invoice.mark_paid", mark_invoice_paid_executor,
                                check=_exists(Invoice, "invoice_id"))
    # Stripe-billed subscriptions are updated at Stripe: runs after the decision commits.
    authority.register_executor("billing.subscription.comp_period", comp_period_executor,
                                check=_exists(Subscription, "subscription_id"),
                                calls_network=True)
