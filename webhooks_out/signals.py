"""Where events come from: the rows the product already writes when something happens.

Each hook runs in the transaction that saves the row (post_save), so the event commits with
the change. A dedupe key per change means a row saved again reports nothing new."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from webhooks_out import payloads
from webhooks_out.events import emit

SUBSCRIPTION_EVENTS = {
    "CREATED": "subscription.created",
    "CANCELED": "subscription.canceled",
    "INVOICE_PAID": "invoice.paid",
    "PAYMENT_FAILED": "invoice.payment_failed",
    **{name: "subscription.updated" for name in (
        "TRIAL_STARTED", "TRIAL_EXTENDED", "ACTIVATED", "RENEWED", "STATUS_CHANGED",
        "PLAN_CHANGED", "CANCEL_SCHEDULED", "RESUMED", "PAUSED", "UNPAUSED")},
}


@receiver(post_save, sender="billing.SubscriptionEvent", dispatch_uid="webhooks_out.sub")
def subscription_event(sender, instance, created, **kwargs):
    event_type = SUBSCRIPTION_EVENTS.get(instance.type)
    if not created or event_type is None:
        return
    emit(event_type, payloads.subscription_change(instance),
         dedupe_key=f"subscription_event:{instance.pk}")


@receiver(post_save, sender="billing.Order", dispatch_uid="webhooks_out.order")
def order_saved(sender, instance, **kwargs):
    if instance.payment_status == "SUCCEEDED" and instance.completed_at is not None:
        emit("order.paid", payloads.order(instance), dedupe_key=f"order.paid:{instance.pk}")


@receiver(post_save, sender="billing.Refund", dispatch_uid="webhooks_out.refund")
def refund_saved(sender, instance, **kwargs):
    if instance.status == "SUCCEEDED":
        emit("payment.refunded", payloads.refund(instance),
             dedupe_key=f"payment.refunded:{instance.pk}")


@receiver(post_save, sender="support.Ticket", dispatch_uid="webhooks_out.ticket")
def ticket_saved(sender, instance, created, **kwargs):
    if created:
        emit("ticket.created", payloads.ticket(instance),
             dedupe_key=f"ticket.created:{instance.pk}")


@receiver(post_save, sender="support.TicketMessage", dispatch_uid="webhooks_out.reply")
def ticket_message_saved(sender, instance, created, **kwargs):
    author = instance.author
    if (created and not instance.internal and author is not None
            and author.pk != instance.ticket.customer_id):
        emit("ticket.replied", payloads.ticket_reply(instance),
             dedupe_key=f"ticket.replied:{instance.pk}")
