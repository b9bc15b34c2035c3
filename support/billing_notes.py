"""Billing's news on the customer's open tickets: an internal note when one of their
subscription invoices is refunded or disputed (``billing.signals.invoice_refunded``)."""

from billing.signals import invoice_refunded
from support.models import Ticket, TicketMessage, TicketStatus

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER)


def note_invoice_refund(sender, *, invoice, staff_words: str, **kwargs) -> None:
    """An internal note (never shown to the customer) on each of the customer's open
    tickets."""
    open_tickets = Ticket.objects.filter(
        customer_id=invoice.user_id, merged_into__isnull=True, status__in=list(OPEN_STATUSES)
    )
    for ticket in open_tickets:
        TicketMessage.objects.create(
            ticket=ticket, author=None, internal=True, body=f"Billing: {staff_words}"
        )


def connect() -> None:
    invoice_refunded.connect(note_invoice_refund, dispatch_uid="support-invoice-refund-notes")
