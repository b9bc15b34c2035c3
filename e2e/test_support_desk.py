"""The support desk as a person uses it: the ticket page in the staff console, each of its
buttons clicked, as a support agent and as an admin. What the page says is checked against
what was saved, e-mailed and audited."""

import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from accounts.factories import AdminFactory, StaffFactory, UserFactory
from billing.factories import OrderFactory, SubscriptionFactory
from billing.models import BillingSource, OrderStatus, PaymentStatus, Refund
from core.models import AuditAction, AuditLog
from credits.selectors import balance_of
from support import services
from support.models import ApprovalRequest, ApprovalStatus, TicketMessage, TicketStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONG_WORD = "x" * 5000


def _world():
    customer = UserFactory(email="paula@example.com", first_name="Paula")
    ticket = services.open_ticket(
        customer=customer,
        subject="Charged twice for March",
        description=f"My card shows two charges. {LONG_WORD}",
    )
    duplicate = services.open_ticket(
        customer=customer,
        subject="Charged twice (again)",
        description="Writing again about the double charge.",
    )
    order = OrderFactory(
        user=customer,
        subtotal=50_000,
        status=OrderStatus.COMPLETED,
        payment_status=PaymentStatus.SUCCEEDED,
        billing_source=BillingSource.MANUAL,
    )
    trial = SubscriptionFactory(
        user=customer,
        status="TRIALING",
        billing_source=BillingSource.MANUAL,
        trial_end=timezone.now() + timezone.timedelta(days=3),
    )
    return customer, ticket, duplicate, order, trial


def _flash(page):
    return page.locator(".messagelist li, ul.messagelist, [role=alert]").first


def _ticket_page(page, ticket):
    page.goto(f"/admin/support/ticket/{ticket.pk}/change/")
    expect(page.get_by_role("heading", name="Work the ticket")).to_be_visible()


def test_support_works_a_ticket_from_its_page(page, logged_in):
    customer, ticket, duplicate, order, trial = _world()
    agent = StaffFactory(email="sam@example.com", first_name="Sam")
    logged_in(page, agent)
    _ticket_page(page, ticket)
    # No Save button that would save nothing.
    expect(page.locator('input[name="_save"]')).to_have_count(0)
    page.shots("ticket")
    _reply_with_a_file(page, ticket, agent)
    _internal_note(page, ticket, agent)
    _empty_reply_refused(page, ticket)
    _status_priority_and_assignment(page, ticket, agent)
    _credits_within_and_above_the_limit(page, customer)
    _refunds_above_and_within_the_limit(page, order)
    _trial_extension(page, trial)
    _merge_the_duplicate(page, ticket, duplicate)


def _reply_with_a_file(page, ticket, agent):
    """A reply with a file: saved, e-mailed, audited, and said so."""
    mail.outbox.clear()
    page.fill("#reply-body", "We see the double charge; a refund is on its way.")
    page.set_input_files(
        "#reply-files",
        files=[
            {
                "name": "statement.png",
                "mimeType": "image/png",
                "buffer": b"\x89PNG\r\n\x1a\n" + b"0" * 64,
            }
        ],
    )
    page.get_by_role("button", name="Send reply (e-mails the customer)").click()
    expect(_flash(page)).to_contain_text(
        "Reply sent: it is on the ticket and e-mailed to paula@example.com, with 1 attachment(s)."
    )
    page.shots("replied")
    reply = TicketMessage.objects.get(ticket=ticket, body__startswith="We see the double")
    assert not reply.internal and reply.author == agent
    assert [f.name for f in reply.attachments.all()] == ["statement.png"]
    assert [m.to for m in mail.outbox] == [["paula@example.com"]]
    assert AuditLog.objects.filter(actor=agent, resource_id=str(reply.pk)).exists()
    expect(page.get_by_role("link", name="statement.png")).to_be_visible()


def _internal_note(page, ticket, agent):
    """An internal note: saved, not e-mailed."""
    page.fill("#reply-body", "Customer is on the annual plan; be generous.")
    page.get_by_role("button", name="Add internal note").click()
    expect(_flash(page)).to_contain_text("Internal note added. The customer does not see it")
    assert TicketMessage.objects.get(ticket=ticket, internal=True).author == agent
    assert len(mail.outbox) == 1


def _empty_reply_refused(page, ticket):
    """An empty reply is refused beside the field, and nothing is saved."""
    page.checks.expect(rf"/admin/support/ticket/{ticket.pk}/act/$", 400)
    before = TicketMessage.objects.count()
    page.locator("#reply-body").evaluate("el => el.removeAttribute('required')")
    page.fill("#reply-body", "  ")
    page.get_by_role("button", name="Send reply (e-mails the customer)").click()
    expect(page.locator("#reply-body-errors")).to_contain_text("Write a message first.")
    page.shots("empty-reply-refused")
    assert TicketMessage.objects.count() == before


def _status_priority_and_assignment(page, ticket, agent):
    """Status, priority, assignment."""
    _ticket_page(page, ticket)
    page.select_option("#status-select", label="Waiting on customer")
    page.get_by_role("button", name="Change status").click()
    expect(_flash(page)).to_contain_text(
        "Status changed from Open to Waiting on customer; paula@example.com is e-mailed"
    )
    page.select_option("#priority-select", label="High")
    page.get_by_role("button", name="Change priority").click()
    expect(_flash(page)).to_contain_text("Priority changed to High")
    page.select_option("#assignee-select", label=agent.name)
    page.get_by_role("button", name="Assign").click()
    expect(_flash(page)).to_contain_text(f"Assigned to {agent.name}.")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assignee) == (
        TicketStatus.WAITING_ON_CUSTOMER,
        "HIGH",
        agent,
    )
    assert len(mail.outbox) == 2  # the status change is e-mailed
    assert AuditLog.objects.filter(
        actor=agent, action=AuditAction.STATUS_CHANGE, resource_id=str(ticket.pk)
    ).exists()
    page.shots("status-priority-assigned")


def _credits_within_and_above_the_limit(page, customer):
    """Credits within the agent's limit run; above it, an approval is requested."""
    page.fill("#credit-amount", "500")
    page.fill("#credit-reason", "Sorry for the trouble")
    page.get_by_role("button", name=re.compile("^Adjust")).click()
    expect(_flash(page)).to_contain_text("Credits adjusted by +500 for paula@example.com.")
    assert balance_of(user=customer) == 500
    page.fill("#credit-amount", "5000")
    page.fill("#credit-reason", "Big goodwill gesture")
    page.get_by_role("button", name=re.compile("^Adjust")).click()
    expect(_flash(page)).to_contain_text("5,000 credits is above your limit of 1,000 credits")
    expect(_flash(page)).to_contain_text("Approval requested")
    assert balance_of(user=customer) == 500


def _refunds_above_and_within_the_limit(page, order):
    """A refund above the agent's limit waits for approval; one within it runs."""
    page.select_option("#refund-order", value=str(order.pk))
    page.fill("#refund-amount", "150.00")
    page.get_by_role("button", name=re.compile("^Refund")).click()
    expect(_flash(page)).to_contain_text("$150.00 is above your limit of $100.00")
    assert not Refund.objects.exists()
    page.select_option("#refund-order", value=str(order.pk))
    page.fill("#refund-amount", "40.00")
    page.get_by_role("button", name=re.compile("^Refund")).click()
    expect(_flash(page)).to_contain_text(f"Refund of $40.00 issued on {order.number}.")
    assert Refund.objects.get().amount == 4000


def _trial_extension(page, trial):
    """A trial extension within the agent's days."""
    old_end = trial.trial_end
    page.select_option("#trial-subscription", value=str(trial.pk))
    page.fill("#trial-days", "3")
    page.fill("#trial-reason", "Outage on the 3rd")
    page.get_by_role("button", name=re.compile("^Extend trial")).click()
    expect(_flash(page)).to_contain_text("Trial extended by 3 days.")
    trial.refresh_from_db()
    assert trial.trial_end == old_end + timezone.timedelta(days=3)
    assert set(ApprovalRequest.objects.values_list("status", flat=True)) == {
        ApprovalStatus.PENDING,
        ApprovalStatus.EXECUTED,
    }
    expect(page.get_by_text("Approval requests for this ticket")).to_be_visible()
    page.shots("billing-actions")


def _merge_the_duplicate(page, ticket, duplicate):
    """Merge the duplicate into the first ticket, after ticking the confirmation."""
    _ticket_page(page, duplicate)
    page.select_option("#merge-into", value=str(ticket.pk))
    page.check("input[name=confirm]")
    page.get_by_role("button", name="Merge").click()
    expect(_flash(page)).to_contain_text(
        f"{duplicate.number} was merged into {ticket.number} and closed"
    )
    assert page.url.endswith(f"/admin/support/ticket/{ticket.pk}/change/")
    duplicate.refresh_from_db()
    assert duplicate.status == TicketStatus.CLOSED and duplicate.merged_into_id == ticket.pk
    expect(page.get_by_text("Writing again about the double charge.")).to_be_visible()
    page.shots("merged")


def test_admin_refunds_above_the_support_limit_at_once_and_replies(page, logged_in):
    customer, ticket, _duplicate, order, _trial = _world()
    boss = AdminFactory(email="ada@example.com", first_name="Ada")
    logged_in(page, boss)
    _ticket_page(page, ticket)
    page.select_option("#refund-order", value=str(order.pk))
    page.fill("#refund-amount", "150.00")
    page.get_by_role("button", name=re.compile("^Refund")).click()
    expect(_flash(page)).to_contain_text(f"Refund of $150.00 issued on {order.number}.")
    assert Refund.objects.get().amount == 15_000
    assert not ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).exists()

    mail.outbox.clear()
    page.fill("#reply-body", "Refunded $150.00 today.")
    page.get_by_role("button", name="Send reply (e-mails the customer)").click()
    expect(_flash(page)).to_contain_text("Reply sent")
    assert TicketMessage.objects.filter(
        ticket=ticket, author=boss, body="Refunded $150.00 today."
    ).exists()
    assert [m.to for m in mail.outbox] == [["paula@example.com"]]
    page.shots("admin-refunded-and-replied")


def test_the_ticket_page_as_support_on_a_phone_and_at_1280(role_page):
    """A support agent's signed-in state reused by a second, phone-sized page: the ticket
    page with a 5,000-character word fits both."""
    desk = role_page("support")
    _customer, ticket, *_ = _world()
    _ticket_page(desk, ticket)
    desk.shots("ticket-1280")
    phone = role_page("support", mobile=True)
    assert phone.user == desk.user
    _ticket_page(phone, ticket)
    phone.shots("ticket-390")
