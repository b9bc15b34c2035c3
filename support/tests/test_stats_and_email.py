from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from support import selectors, services
from support.factories import ChatMessageFactory, ConversationFactory
from support.models import ChatMessage, Conversation, Ticket

pytestmark = pytest.mark.django_db


def test_ticket_stats_for_day(open_ticket, support_agent):
    a, b, c = open_ticket(), open_ticket(), open_ticket()
    now = timezone.now()
    Ticket.objects.filter(pk=a.pk).update(first_response_at=a.created_at + timedelta(seconds=60))
    Ticket.objects.filter(pk=b.pk).update(
        first_response_at=b.created_at + timedelta(seconds=180), resolved_at=now
    )
    Ticket.objects.filter(pk=c.pk).update(created_at=now - timedelta(days=1))
    stats = selectors.ticket_stats_for_day(now.date())
    assert stats == {
        "opened": 2,
        "resolved": 1,
        "first_responses": 2,
        "median_first_response_seconds": 120.0,
    }
    empty = selectors.ticket_stats_for_day((now - timedelta(days=5)).date())
    assert empty["opened"] == 0 and empty["median_first_response_seconds"] is None


def test_bot_stats_for_day(customer):
    today = timezone.now()
    answered = ConversationFactory(customer=customer)
    ChatMessageFactory(conversation=answered, answered=True, helpful=True, rated_at=today)
    unanswered = ConversationFactory(customer=customer, handed_off_at=today)
    ChatMessageFactory(conversation=unanswered, answered=False, helpful=False, rated_at=today)
    old = ConversationFactory(customer=customer)
    Conversation.objects.filter(pk=old.pk).update(created_at=today - timedelta(days=2))
    ChatMessage.objects.create(conversation=old, role="bot", body="x", answered=True)

    assert selectors.bot_stats_for_day(today.date()) == {
        "conversations": 2,
        "answered": 1,
        "handed_off": 1,
        "thumbs_up": 1,
        "thumbs_down": 1,
    }


def test_assignee_is_emailed_on_customer_reply(
    ticket, customer, support_agent, django_capture_on_commit_callbacks
):
    services.assign(ticket=ticket, assignee=support_agent, actor=support_agent)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket=ticket, author=customer, body="Any update?")
    assert [m.to for m in mail.outbox] == [["agent@example.com"]]
    assert "Any update?" in mail.outbox[0].body


def test_no_email_is_sent_when_the_transaction_rolls_back(
    ticket, support_agent, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                services.reply(ticket=ticket, author=support_agent, body="Oops")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert mail.outbox == []
    assert not ticket.messages.filter(body="Oops").exists()


def test_customer_is_not_emailed_about_their_own_close(
    ticket, customer, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.close(ticket=ticket, actor=customer)
    assert mail.outbox == []


def test_customer_is_emailed_when_auto_close_closes_their_ticket(
    ticket, support_agent, django_capture_on_commit_callbacks
):
    services.change_status(ticket=ticket, status="RESOLVED", actor=support_agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=9))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.auto_close_resolved()
    assert [m.to for m in mail.outbox] == [["customer@example.com"]]
    assert "Closed" in mail.outbox[0].subject
