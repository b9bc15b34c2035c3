"""Internal notes never reach the customer: not in pages, the API, e-mails or the export."""

import json

import pytest
from django.core import mail

from accounts import data_export
from accounts.factories import StoredFileFactory
from support import services
from support.errors import StaffOnly
from support.tasks import notify_customer_of_reply

pytestmark = pytest.mark.django_db

SECRET = "Customer is on our watch list: do not refund"


@pytest.fixture
def noted_ticket(ticket, support_agent, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.add_internal_note(ticket=ticket, author=support_agent, body=SECRET)
        services.reply(ticket=ticket, author=support_agent, body="We are on it.")
    return ticket


def test_note_is_kept_for_staff(noted_ticket):
    assert noted_ticket.messages.filter(internal=True, body=SECRET).count() == 1


def test_note_is_not_on_the_customer_page(customer_client, noted_ticket):
    response = customer_client.get(f"/support/tickets/{noted_ticket.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "We are on it." in html
    assert SECRET not in html


def test_note_is_not_in_the_api(customer_api, noted_ticket):
    response = customer_api.get(f"/api/v1/tickets/{noted_ticket.pk}/")
    assert response.status_code == 200
    assert SECRET not in json.dumps(response.json())
    bodies = [m["body"] for m in response.json()["messages"]]
    assert "We are on it." in bodies


def test_note_sends_no_email_and_is_not_in_reply_emails(noted_ticket):
    # Exactly one e-mail: the staff reply. The note itself sent nothing.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["customer@example.com"]
    assert "We are on it." in mail.outbox[0].body
    assert SECRET not in mail.outbox[0].body


def test_the_reply_task_refuses_to_send_a_note(noted_ticket):
    note = noted_ticket.messages.get(internal=True)
    mail.outbox.clear()
    assert notify_customer_of_reply(note.pk) is False
    assert mail.outbox == []


def test_note_is_not_in_the_data_export(customer, noted_ticket):
    section = data_export.sections()["support"](customer)
    dumped = "".join(data_export.json_pieces(section))
    assert "We are on it." in dumped
    assert SECRET not in dumped


def test_customers_cannot_add_internal_notes(ticket, customer):
    with pytest.raises(StaffOnly):
        services.add_internal_note(ticket=ticket, author=customer, body="sneaky")
    assert not ticket.messages.filter(internal=True).exists()


def test_note_attachment_is_not_downloadable_by_the_customer(
    customer_client, ticket, support_agent
):
    note = services.add_internal_note(ticket=ticket, author=support_agent, body="see file")
    stored = StoredFileFactory(owner=support_agent, path="")
    note.attachments.add(stored)
    response = customer_client.get(f"/support/tickets/{ticket.pk}/attachments/{stored.pk}/")
    assert response.status_code == 404


def test_note_is_not_in_the_accounts_export_endpoint(customer_api, noted_ticket):
    response = customer_api.get("/api/v1/me/export/")
    assert response.status_code == 200
    dumped = json.dumps(json.loads(b"".join(response.streaming_content)))
    assert "We are on it." in dumped
    assert SECRET not in dumped
