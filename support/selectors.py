"""Reads for pages, the API, the staff console and other apps (analytics, data export)."""

import statistics
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.data_export import rows
from accounts.models import User
from support.models import (
    ChatMessage,
    ChatRole,
    Conversation,
    Ticket,
    TicketMessage,
)


def customer_tickets(user: User) -> QuerySet[Ticket]:
    return Ticket.objects.for_customer(user).select_related("assignee")


def customer_ticket(user: User, pk: int) -> Ticket | None:
    """The customer's own ticket with its PUBLIC thread prefetched, or None (-> 404)."""
    return (
        customer_tickets(user)
        .prefetch_related(
            Prefetch(
                "messages",
                queryset=TicketMessage.objects.public()
                .select_related("author")
                .prefetch_related("attachments"),
                to_attr="public_messages",
            )
        )
        .filter(pk=pk)
        .first()
    )


def staff_thread(ticket: Ticket) -> QuerySet[TicketMessage]:
    """Every message including internal notes: only for the staff console."""
    return ticket.messages.select_related("author").prefetch_related("attachments")


def breaching_tickets(now: datetime | None = None) -> QuerySet[Ticket]:
    return Ticket.objects.breaching_sla(now)


def customer_conversation(user: User, pk: int) -> Conversation | None:
    return (
        Conversation.objects.filter(customer=user, pk=pk)
        .prefetch_related("messages__cited_articles")
        .first()
    )


def ticket_stats_for_day(day: date) -> dict:
    """Tickets opened and resolved on ``day`` (UTC), and the median seconds to first staff
    response of tickets first answered that day (None when there were none)."""
    opened = Ticket.objects.filter(created_at__date=day).count()
    resolved = Ticket.objects.filter(resolved_at__date=day).count()
    waits = [
        (first - created).total_seconds()
        for created, first in Ticket.objects.filter(first_response_at__date=day).values_list(
            "created_at", "first_response_at"
        )
        if first is not None  # always: the filter is on its date
    ]
    return {
        "opened": opened,
        "resolved": resolved,
        "first_responses": len(waits),
        "median_first_response_seconds": statistics.median(waits) if waits else None,
    }


def bot_stats_for_day(day: date) -> dict:
    """The help bot on ``day`` (UTC): conversations started, of those how many got at least
    one answer from the knowledge base, conversations handed to a human that day, and the
    thumbs up/down given that day (a re-rated answer counts once, as last rated)."""
    answered_exists = Exists(
        ChatMessage.objects.filter(conversation=OuterRef("pk"), role=ChatRole.BOT, answered=True)
    )
    started = Conversation.objects.filter(created_at__date=day)
    ratings = ChatMessage.objects.filter(rated_at__date=day).aggregate(
        up=Count("pk", filter=Q(helpful=True)), down=Count("pk", filter=Q(helpful=False))
    )
    conversations = started.count()
    answered = started.filter(answered_exists).count()
    return {
        "conversations": conversations,
        "answered": answered,
        "handed_off": Conversation.objects.filter(handed_off_at__date=day).count(),
        "thumbs_up": ratings["up"],
        "thumbs_down": ratings["down"],
    }


def _exported_ticket(ticket: Ticket, user: User) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "created_at": ticket.created_at.isoformat(),
        "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
        "messages": [
            {
                "from": "you" if m.author_id == user.pk else "support",
                "body": m.body,
                "created_at": m.created_at.isoformat(),
                "attachments": [f.name for f in m.attachments.all()],
            }
            # Set by the Prefetch(to_attr=...) of the queryset the export reads.
            for m in ticket.public_messages  # type: ignore[attr-defined]
        ],
    }


def export_customer_data(user: User) -> dict:
    """The customer's support data for their data export: tickets with the PUBLIC thread only
    (internal notes are never exported) and their help-bot conversations, each read a chunk
    of rows at a time (accounts.data_export.rows)."""
    tickets = (
        Ticket.objects.for_customer(user)
        .order_by("created_at", "id")
        .prefetch_related(
            Prefetch(
                "messages",
                to_attr="public_messages",
                queryset=TicketMessage.objects.public().prefetch_related("attachments"),
            )
        )
    )
    conversations = (
        Conversation.objects.filter(customer=user)
        .order_by("created_at", "id")
        .prefetch_related("messages")
    )
    return {
        "tickets": rows(tickets, lambda ticket: _exported_ticket(ticket, user)),
        "help_bot_conversations": rows(
            conversations,
            lambda c: {
                "id": c.pk,
                "created_at": c.created_at.isoformat(),
                "messages": [
                    {
                        "role": m.role,
                        "body": m.body,
                        "helpful": m.helpful,
                        "created_at": m.created_at.isoformat(),
                    }
                    for m in c.messages.all()
                ],
            },
        ),
    }
