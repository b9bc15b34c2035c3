"""Ticket writes lock the ticket row: racing writers see each other's result."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.factories import StaffFactory, UserFactory
from core.api import DomainError
from support import services
from support.models import Ticket, TicketStatus


def _race(*fns):
    barrier = threading.Barrier(len(fns))
    outcomes = [None] * len(fns)

    def run(i, fn):
        try:
            barrier.wait()
            outcomes[i] = ("ok", fn())
        except DomainError as exc:
            outcomes[i] = ("refused", exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_customer_reopen_racing_auto_close_ends_in_one_consistent_state():
    customer, agent = UserFactory(), StaffFactory()
    ticket = services.open_ticket(customer=customer, subject="s", description="d")
    services.change_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=agent)
    # Resolved 10 days ago: inside the 14-day reopen window, past the 7-day auto-close.
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=10))

    reply, closed = _race(
        lambda: services.reply(ticket=ticket, author=customer, body="still broken"),
        lambda: services.auto_close_resolved(),
    )
    ticket.refresh_from_db()
    if reply[0] == "ok":
        # The reply won the lock: reopened, so auto-close found nothing resolved to close.
        assert ticket.status == TicketStatus.OPEN
        assert closed == ("ok", 0)
        assert ticket.messages.filter(body="still broken").exists()
    else:
        # Auto-close won: the reply is refused and nothing was written.
        assert reply == ("refused", "ticket_closed")
        assert ticket.status == TicketStatus.CLOSED
        assert not ticket.messages.filter(body="still broken").exists()


@pytest.mark.django_db(transaction=True)
def test_two_staff_replies_at_once_set_first_response_once():
    customer, first, second = UserFactory(), StaffFactory(), StaffFactory()
    ticket = services.open_ticket(customer=customer, subject="s", description="d")
    outcomes = _race(
        lambda: services.reply(ticket=ticket, author=first, body="one").pk,
        lambda: services.reply(ticket=ticket, author=second, body="two").pk,
    )
    assert [o[0] for o in outcomes] == ["ok", "ok"]
    ticket.refresh_from_db()
    replies = list(ticket.messages.filter(body__in=["one", "two"]).order_by("created_at"))
    assert len(replies) == 2
    # The lock winner's reply set it; the second saw it set and left it alone.
    assert ticket.first_response_at == replies[0].created_at
