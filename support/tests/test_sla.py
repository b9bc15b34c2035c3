from datetime import timedelta

import pytest
from django.utils import timezone

from billing.factories import give_entitlements
from core.models import SystemConfig
from support import selectors, services
from support.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db


def test_deadlines_come_from_system_config_per_priority(customer):
    SystemConfig.objects.create(key="support_sla_first_response_hours_high", value=3)
    give_entitlements(customer, "priority_support")
    before = timezone.now()
    ticket = services.open_ticket(customer=customer, subject="s", description="d", priority="HIGH")
    assert before + timedelta(hours=3) <= ticket.first_response_due_at
    assert ticket.first_response_due_at <= timezone.now() + timedelta(hours=3)
    assert ticket.resolution_due_at - ticket.created_at >= timedelta(hours=24)


def test_unanswered_ticket_past_its_deadline_is_flagged_and_filtered(open_ticket, support_agent):
    late, fine, answered = open_ticket(), open_ticket(), open_ticket()
    past = timezone.now() - timedelta(minutes=1)
    Ticket.objects.filter(pk__in=[late.pk, answered.pk]).update(first_response_due_at=past)
    # Answered on time (before the deadline moved into the past): not breaching.
    Ticket.objects.filter(pk=answered.pk).update(first_response_at=past - timedelta(hours=1))

    assert set(selectors.breaching_tickets()) == {late}
    late.refresh_from_db()
    fine.refresh_from_db()
    assert late.sla_breached and late.first_response_breached
    assert not fine.sla_breached


def test_late_resolution_is_flagged_until_resolved(ticket, support_agent):
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_at=timezone.now(),
        first_response_due_at=timezone.now() + timedelta(1),
        resolution_due_at=timezone.now() - timedelta(hours=1),
    )
    assert list(selectors.breaching_tickets()) == [ticket]
    services.change_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=support_agent)
    assert list(selectors.breaching_tickets()) == []
    ticket.refresh_from_db()
    assert ticket.resolution_breached  # resolved after the deadline: still shows on its page


def test_priority_change_recomputes_deadlines_from_opening(ticket, support_agent):
    services.change_priority(ticket=ticket, priority="URGENT", actor=support_agent)
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == ticket.created_at + timedelta(hours=2)
    assert ticket.resolution_due_at == ticket.created_at + timedelta(hours=8)


def test_staff_queue_filter_breaching_sla(client, admin_user, open_ticket):
    late = open_ticket(subject="Late one")
    open_ticket(subject="Fine one")
    Ticket.objects.filter(pk=late.pk).update(
        first_response_due_at=timezone.now() - timedelta(hours=1)
    )
    client.force_login(admin_user)
    html = client.get("/admin/support/ticket/?queue=breaching").content.decode()
    assert "Late one" in html
    assert "Fine one" not in html
