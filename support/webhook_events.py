"""The support desk's webhook events (``ticket.created``, ``ticket.replied``), recorded
through webhooks_out's event API in the transaction that saves the row, so the event commits
with the change. A dedupe key per row means a row saved again reports nothing new.
Connected from the app's ready()."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from support.models import Ticket, TicketMessage
from webhooks_out.events import emit
from webhooks_out.payloads import customer_ref


def _ts(value) -> int | None:
    return int(value.timestamp()) if value else None


def ticket_payload(ticket: Ticket) -> dict:
    return {
        "id": ticket.pk,
        "object": "ticket",
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "customer": customer_ref(ticket.customer_id),
        "created": _ts(ticket.created_at),
    }


def reply_payload(message: TicketMessage) -> dict:
    return {
        "id": message.pk,
        "object": "ticket_message",
        "ticket": ticket_payload(message.ticket),
        "body": message.body,
        "created": _ts(message.created_at),
    }


@receiver(post_save, sender=Ticket, dispatch_uid="webhooks_out.ticket")
def ticket_saved(sender, instance, created, **kwargs):
    if created:
        emit("ticket.created", ticket_payload(instance), dedupe_key=f"ticket.created:{instance.pk}")


@receiver(post_save, sender=TicketMessage, dispatch_uid="webhooks_out.reply")
def ticket_message_saved(sender, instance, created, **kwargs):
    author = instance.author
    if (
        created
        and not instance.internal
        and author is not None
        and author.pk != instance.ticket.customer_id
    ):
        emit("ticket.replied", reply_payload(instance), dedupe_key=f"ticket.replied:{instance.pk}")
