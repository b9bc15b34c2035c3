from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from core.models import AuditLog
from support import services
from support.errors import InvalidTransition, StaffOnly
from support.factories import TicketFactory
from support.models import TRANSITIONS, Ticket, TicketStatus
from support.tasks import auto_close_resolved_tickets

pytestmark = pytest.mark.django_db

VALID_PATH = [
    TicketStatus.IN_PROGRESS,
    TicketStatus.WAITING_ON_CUSTOMER,
    TicketStatus.IN_PROGRESS,
    TicketStatus.RESOLVED,
    TicketStatus.CLOSED,
]


def test_the_documented_path_is_walked_and_each_step_is_audited_and_mailed(
    ticket, support_agent, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    for status in VALID_PATH:
        with django_capture_on_commit_callbacks(execute=True):
            services.change_status(ticket=ticket, status=status, actor=support_agent)
        ticket.refresh_from_db()
        assert ticket.status == status
    assert ticket.resolved_at is not None
    assert ticket.closed_at is not None
    changes = AuditLog.objects.filter(
        resource_type="support.Ticket", resource_id=str(ticket.pk), action="STATUS_CHANGE"
    )
    assert changes.count() == len(VALID_PATH)
    assert len(mail.outbox) == len(VALID_PATH)
    assert all(m.to == [ticket.customer.email] for m in mail.outbox)
    assert "Closed" in mail.outbox[-1].subject


@pytest.mark.parametrize("current", list(TicketStatus.values))
@pytest.mark.parametrize("target", list(TicketStatus.values))
def test_every_transition_outside_the_machine_is_refused_and_nothing_changes(
    customer, support_agent, current, target
):
    ticket = TicketFactory(
        customer=customer,
        status=current,
        closed_at=timezone.now() if current == TicketStatus.CLOSED else None,
    )
    if target in TRANSITIONS[current]:
        services.change_status(ticket=ticket, status=target, actor=support_agent)
        ticket.refresh_from_db()
        assert ticket.status == target
        return
    with pytest.raises(InvalidTransition) as excinfo:
        services.change_status(ticket=ticket, status=target, actor=support_agent)
    assert excinfo.value.code == "invalid_transition"
    ticket.refresh_from_db()
    assert ticket.status == current


def test_closed_is_terminal(ticket, support_agent):
    services.close(ticket=ticket, actor=support_agent)
    for status in TicketStatus.values:
        with pytest.raises(InvalidTransition):
            services.change_status(ticket=ticket, status=status, actor=support_agent)


def test_customers_cannot_change_status_directly(ticket, customer):
    with pytest.raises(StaffOnly):
        services.change_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=customer)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_reopening_a_resolved_ticket_clears_resolved_at(ticket, support_agent):
    services.change_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=support_agent)
    services.change_status(ticket=ticket, status=TicketStatus.IN_PROGRESS, actor=support_agent)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS
    assert ticket.resolved_at is None


def test_invalid_transition_through_the_staff_console_shows_an_error(client, ticket, support_agent):
    services.close(ticket=ticket, actor=support_agent)
    client.force_login(support_agent)
    response = client.post(
        f"/admin/support/ticket/{ticket.pk}/act/",
        {"operation": "status", "status": "OPEN"},
        follow=True,
    )
    assert response.status_code == 200
    assert "cannot go from Closed to Open" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED


def test_auto_close_closes_only_tickets_resolved_more_than_seven_days_ago(
    open_ticket, support_agent
):
    old, recent, active = open_ticket(), open_ticket(), open_ticket()
    for t in (old, recent):
        services.change_status(ticket=t, status=TicketStatus.RESOLVED, actor=support_agent)
    Ticket.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    Ticket.objects.filter(pk=recent.pk).update(resolved_at=timezone.now() - timedelta(days=6))

    assert services.auto_close_resolved() == 1
    assert services.auto_close_resolved() == 0  # safe to run twice
    old.refresh_from_db()
    recent.refresh_from_db()
    active.refresh_from_db()
    assert old.status == TicketStatus.CLOSED and old.closed_at is not None
    assert recent.status == TicketStatus.RESOLVED
    assert active.status == TicketStatus.OPEN


def test_auto_close_task_runs_the_service(open_ticket, support_agent):
    t = open_ticket()
    services.change_status(ticket=t, status=TicketStatus.RESOLVED, actor=support_agent)
    Ticket.objects.filter(pk=t.pk).update(resolved_at=timezone.now() - timedelta(days=30))
    assert auto_close_resolved_tickets.delay().get() == 1
    t.refresh_from_db()
    assert t.status == TicketStatus.CLOSED
