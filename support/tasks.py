"""E-mails about tickets, queued after the commit that caused them.

Each task takes ids, reads the current rows and sends one e-mail. A message that is an
internal note is never sent, whatever asked for it: notes must not reach the customer.
"""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from core import outbox
from core.system_config import get_config
from support import embeddings, services
from support.models import Ticket, TicketMessage, TicketStatus


def _ticket_url(ticket: Ticket) -> str:
    return f"{settings.SITE_URL}/support/tickets/{ticket.pk}/"


def _send(template: str, subject: str, to: str, context: dict) -> None:
    business = get_config("business_name")
    body = render_to_string(
        f"support/email/{template}.txt",
        {**context, "business_name": business, "site_url": settings.SITE_URL},
    )
    send_mail(f"[{business}] {subject}", body, settings.DEFAULT_FROM_EMAIL, [to])


@shared_task(
    name="support.tasks.notify_customer_of_reply",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def notify_customer_of_reply(message_id: int) -> bool:
    message = (
        TicketMessage.objects.public()
        .select_related("ticket__customer", "author")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return False
    ticket = message.ticket
    _send(
        "staff_reply",
        f"[{ticket.number}] New reply: {ticket.subject}",
        ticket.customer.email,
        {"ticket": ticket, "message": message, "url": _ticket_url(ticket)},
    )
    return True


@shared_task(
    name="support.tasks.notify_customer_of_status",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def notify_customer_of_status(ticket_id: int, status: str) -> bool:
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None or not ticket.customer.email:
        return False
    _send(
        "status_change",
        f"[{ticket.number}] {TicketStatus(status).label}: {ticket.subject}",
        ticket.customer.email,
        {
            "ticket": ticket,
            "status_label": TicketStatus(status).label,
            "url": _ticket_url(ticket),
            "reopen_days": get_config("support_reopen_window_days"),
        },
    )
    return True


@shared_task(
    name="support.tasks.notify_assignee_of_reply",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
@outbox.effect_once
def notify_assignee_of_reply(message_id: int) -> bool:
    message = (
        TicketMessage.objects.public()
        .select_related("ticket__assignee", "ticket__customer", "author")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return False
    ticket = message.ticket
    assignee = ticket.assignee
    if assignee is None:
        return False
    _send(
        "customer_reply",
        f"[{ticket.number}] Customer replied: {ticket.subject}",
        assignee.email,
        {
            "ticket": ticket,
            "message": message,
            "url": f"{settings.SITE_URL}/admin/support/ticket/{ticket.pk}/change/",
        },
    )
    return True


@shared_task(name="support.tasks.auto_close_resolved_tickets")
def auto_close_resolved_tickets() -> int:
    return services.auto_close_resolved()


@shared_task(name="support.tasks.embed_article_task")
def embed_article_task(article_id: int) -> bool:
    """(Re)compute an article's semantic vector; a no-op without pgvector or the model, and
    when the text has not changed since the last run (idempotent)."""

    return embeddings.embed_article(article_id)
