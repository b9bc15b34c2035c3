"""Where events come from: the rows the product already writes when something happens.

Each hook runs in the transaction that saves the row (post_save), so the event commits with
the change. A dedupe key per change means a row saved again reports nothing new.

The support desk emits its own events (support/webhook_events.py); credits its own
(credits/consumption.py, credits/tasks.py)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from webhooks_out import payloads
from webhooks_out.events import emit

SUBSCRIPTION_EVENTS = {
    "CREATED": "subscription.created",
    "CANCELED": "subscription.canceled",
    "INVOICE_PAID": "invoice.paid",
    "PAYMENT_FAILED": "invoice.payment_failed",
    **{
        name: "subscription.updated"
        for name in (
            "TRIAL_STARTED",
            "TRIAL_EXTENDED",
            "ACTIVATED",
            "RENEWED",
            "STATUS_CHANGED",
            "PLAN_CHANGED",
            "CANCEL_SCHEDULED",
            "RESUMED",
            "PAUSED",
            "UNPAUSED",
        )
    },
}


@receiver(post_save, sender="billing.SubscriptionEvent", dispatch_uid="webhooks_out.sub")
def subscription_event(sender, instance, created, **kwargs):
    event_type = SUBSCRIPTION_EVENTS.get(instance.type)
    if not created or event_type is None:
        return
    emit(
        event_type,
        payloads.subscription_change(instance),
        dedupe_key=f"subscription_event:{instance.pk}",
    )


@receiver(post_save, sender="billing.Order", dispatch_uid="webhooks_out.order")
def order_saved(sender, instance, **kwargs):
    if instance.payment_status == "SUCCEEDED" and instance.completed_at is not None:
        emit("order.paid", payloads.order(instance), dedupe_key=f"order.paid:{instance.pk}")


@receiver(post_save, sender="billing.Refund", dispatch_uid="webhooks_out.refund")
def refund_saved(sender, instance, **kwargs):
    if instance.status == "SUCCEEDED":
        emit(
            "payment.refunded",
            payloads.refund(instance),
            dedupe_key=f"payment.refunded:{instance.pk}",
        )
