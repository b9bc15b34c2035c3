"""The ticket page's forms, read from the page as rendered and submitted to their own
``action`` the way a browser would (a form nested in another would be read as the outer
form, as a browser does, and these tests would post to the change form instead)."""

from urllib.parse import urljoin

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.factories import AdminFactory, StaffFactory
from billing.factories import OrderFactory, SubscriptionFactory
from billing.models import BillingSource, OrderStatus, PaymentStatus, Refund
from config.tests.page_forms import find_form, page_forms, submit
from core.models import AuditAction, AuditLog
from credits.selectors import balance_of
from support import services
from support.models import ApprovalRequest, ApprovalStatus, Ticket, TicketMessage, TicketStatus

pytestmark = pytest.mark.django_db

ROLES = {"support": StaffFactory, "admin": AdminFactory}


@pytest.fixture(params=sorted(ROLES))
def staff(request, client):
    user = ROLES[request.param](email=f"{request.param}.desk@example.com")
    client.force_login(user)
    return user


def _page(client, ticket):
    response = client.get(f"/admin/support/ticket/{ticket.pk}/change/")
    assert response.status_code == 200
    return response


def _post(client, page, form, typed=None, *, button=None, files=None):
    """Submit ``form`` with files too (``submit`` leaves file inputs out)."""
    url = urljoin(page.wsgi_request.get_full_path(), form.action)
    data = form.data(typed, button)
    if files:
        data["attachments"] = files
    return client.post(url, data, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_change_form_has_no_save_button_and_no_form_inside_it(client, staff, ticket):
    page = _page(client, ticket)
    forms = page_forms(page)
    change = next(f for f in forms if f.attrs.get("id") == "ticket_form")
    # Read as a browser reads it: nothing of the desk's forms is inside the change form.
    assert not {"operation", "body", "amount", "status", "assignee"} & change.names()
    assert not [b for b in change.buttons if b[0] in ("_save", "_continue", "operation")]
    html = page.content.decode()
    assert 'name="_save"' not in html and "Save and continue" not in html
    act = f"/admin/support/ticket/{ticket.pk}/act/"
    assert {f.action for f in forms} >= {act, f"/admin/support/ticket/{ticket.pk}/credits/"}


def test_posting_the_change_form_says_nothing_was_saved(client, staff, ticket):
    page = _page(client, ticket)
    change = find_form(page, form_id="ticket_form")
    response = submit(client, page, change)
    assert response.status_code == 302
    shown = _messages(client.get(response["Location"]))
    assert any("Nothing was saved" in m for m in shown)
    assert not any("changed successfully" in m for m in shown)


def test_reply_with_an_attachment_is_saved_e_mailed_and_audited(
    client, staff, ticket, django_capture_on_commit_callbacks
):
    page = _page(client, ticket)
    form = find_form(page, has="body")
    mail.outbox.clear()
    screenshot = SimpleUploadedFile("screen.png", b"\x89PNG\r\n\x1a\nfake", "image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client,
            page,
            form,
            {"body": "Your refund is on its way."},
            button="operation",
            files=[screenshot],
        )
    assert response.status_code == 200
    message = TicketMessage.objects.get(ticket=ticket, body="Your refund is on its way.")
    assert not message.internal and message.author == staff
    assert [f.name for f in message.attachments.all()] == ["screen.png"]
    assert [m.to for m in mail.outbox] == [["customer@example.com"]]
    assert AuditLog.objects.filter(
        actor=staff,
        action=AuditAction.CREATE,
        resource_type__icontains="ticketmessage",
        resource_id=str(message.pk),
    ).exists()
    assert (
        "Reply sent: it is on the ticket and e-mailed to customer@example.com, with 1 "
        "attachment(s)."
    ) in _messages(response)
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    # The customer sees the reply and its file on their own page.
    assert "screen.png" in response.content.decode()


def test_internal_note_is_saved_not_e_mailed(
    client, staff, ticket, django_capture_on_commit_callbacks
):
    page = _page(client, ticket)
    form = find_form(page, has="body")
    assert ("operation", "note") in form.buttons
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        # The "Add internal note" button: its name and value are posted with the form.
        response = client.post(
            urljoin(page.wsgi_request.path, form.action),
            {**form.data({"body": "VIP: refund approved by Ana."}), "operation": ["note"]},
            follow=True,
        )
    note = TicketMessage.objects.get(ticket=ticket, body="VIP: refund approved by Ana.")
    assert note.internal and note.author == staff
    assert "Internal note added. The customer does not see it and is not e-mailed." in _messages(
        response
    )
    assert AuditLog.objects.filter(actor=staff, resource_id=str(note.pk)).exists()
    assert mail.outbox == []


def test_an_empty_reply_is_refused_beside_the_field(client, staff, ticket):
    page = _page(client, ticket)
    form = find_form(page, has="body")
    before = TicketMessage.objects.count()
    response = _post(client, page, form, {"body": "   "}, button="operation")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="reply-body-errors"' in html and "Write a message first." in html
    assert TicketMessage.objects.count() == before


def test_status_priority_and_assignment_from_their_forms(
    client, staff, ticket, support_agent, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    page = _page(client, ticket)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client,
            page,
            find_form(page, has="status"),
            {"status": TicketStatus.WAITING_ON_CUSTOMER},
        )
    assert (
        "Status changed from Open to Waiting on customer; customer@example.com is "
        "e-mailed about it."
    ) in _messages(response)
    assert [m.to for m in mail.outbox] == [["customer@example.com"]]

    page = _page(client, ticket)
    response = _post(client, page, find_form(page, has="priority"), {"priority": "URGENT"})
    assert "Priority changed to Urgent; the SLA deadlines were recomputed." in _messages(response)

    page = _page(client, ticket)
    response = _post(client, page, find_form(page, has="assignee"), {"assignee": support_agent.pk})
    assert f"Assigned to {support_agent.name}." in _messages(response)

    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assignee) == (
        TicketStatus.WAITING_ON_CUSTOMER,
        "URGENT",
        support_agent,
    )
    changes = AuditLog.objects.filter(actor=staff, resource_id=str(ticket.pk))
    assert {AuditAction.STATUS_CHANGE, AuditAction.UPDATE} <= set(
        changes.values_list("action", flat=True)
    )
    assert changes.filter(new_values__priority="URGENT").exists()
    assert changes.filter(new_values__assignee_id=support_agent.pk).exists()


def test_merge_needs_confirmation_then_merges(client, staff, open_ticket):
    keep = open_ticket(subject="Charged twice")
    duplicate = open_ticket(subject="Charged twice again", description="Same thing")
    page = _page(client, duplicate)
    form = find_form(page, has="into")
    assert form.value("into") == str(keep.pk)

    refused = _post(client, page, form)  # the confirmation box left unticked
    assert refused.status_code == 400
    assert 'id="merge-confirm-errors"' in refused.content.decode()
    duplicate.refresh_from_db()
    assert duplicate.status == TicketStatus.OPEN

    response = _post(client, page, form, {"confirm": "on"})
    assert response.wsgi_request.path == f"/admin/support/ticket/{keep.pk}/change/"
    assert (
        f"{duplicate.number} was merged into {keep.number} and closed; its messages are "
        "now on this ticket."
    ) in _messages(response)
    duplicate.refresh_from_db()
    assert duplicate.status == TicketStatus.CLOSED and duplicate.merged_into == keep
    assert keep.messages.filter(body="Same thing").exists()


def test_a_closed_ticket_offers_no_reply_and_no_merge(client, staff, ticket):
    services.close(ticket=ticket, actor=staff)
    page = _page(client, ticket)
    assert not [f for f in page_forms(page) if "body" in f.names() or "into" in f.names()]
    assert "This ticket is closed" in page.content.decode()


def _paid_order(user, total):
    return OrderFactory(
        user=user,
        subtotal=total,
        status=OrderStatus.COMPLETED,
        payment_status=PaymentStatus.SUCCEEDED,
        billing_source=BillingSource.MANUAL,
    )


def test_credits_within_and_above_the_limit(client, staff, customer, ticket):
    page = _page(client, ticket)
    form = find_form(page, action=f"/admin/support/ticket/{ticket.pk}/credits/")
    response = _post(client, page, form, {"amount": "500", "reason": "outage"})
    assert f"Credits adjusted by +500 for {customer.email}." in _messages(response)
    assert balance_of(user=customer) == 500

    response = _post(client, page, form, {"amount": "5000", "reason": "big outage"})
    shown = " ".join(_messages(response))
    if staff.role == "SUPPORT":
        assert (
            "Approval requested (#" in shown
            and "5,000 credits is above your limit of 1,000 credits" in shown
            and "waiting for a second staff member" in shown
        )
        assert ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).count() == 1
        assert balance_of(user=customer) == 500
    else:
        assert f"Credits adjusted by +5,000 for {customer.email}." in shown
        assert balance_of(user=customer) == 5500


def test_refund_above_the_support_limit_asks_for_approval(client, staff, customer, ticket):
    order = _paid_order(customer, 50_000)
    page = _page(client, ticket)
    form = find_form(page, action=f"/admin/support/ticket/{ticket.pk}/refund/")
    response = _post(
        client,
        page,
        form,
        {"order": order.pk, "amount": "150.00", "reason": "REQUESTED_BY_CUSTOMER"},
    )
    shown = " ".join(_messages(response))
    if staff.role == "SUPPORT":
        assert (
            "Approval requested (#" in shown and "$150.00 is above your limit of $100.00" in shown
        )
        assert not Refund.objects.exists()
    else:
        assert f"Refund of $150.00 issued on {order.number}." in shown
        assert Refund.objects.get().amount == 15_000


def test_a_bad_trial_extension_is_refused_beside_the_field(client, staff, customer, ticket):
    SubscriptionFactory(
        user=customer,
        status="TRIALING",
        billing_source=BillingSource.MANUAL,
        trial_end=timezone.now() + timezone.timedelta(days=3),
    )
    page = _page(client, ticket)
    form = find_form(page, action=f"/admin/support/ticket/{ticket.pk}/extend-trial/")
    response = _post(client, page, form, {"days": "0", "reason": "outage"})
    assert response.status_code == 400
    assert 'id="trial-days-errors"' in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).approval_requests.count() == 0
