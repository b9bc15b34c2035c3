from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import StoredFile
from billing.factories import give_entitlements
from support import services
from support.attachments import MAX_ATTACHMENT_BYTES
from support.models import Ticket, TicketMessage, TicketStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


def test_customer_opens_a_ticket_and_lists_only_their_own(customer_api, other_customer, customer):
    give_entitlements(customer, "priority_support")
    response = customer_api.post(
        URL,
        {
            "subject": "Cannot download invoice",
            "description": "The PDF link fails.",
            "priority": "HIGH",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "OPEN" and body["priority"] == "HIGH"
    assert body["number"].startswith("T")
    assert body["related_order"] is None and body["related_subscription"] is None
    assert body["messages"][0]["body"] == "The PDF link fails."
    services.open_ticket(customer=other_customer, subject="Theirs", description="x")

    listing = customer_api.get(URL).json()
    assert [t["subject"] for t in listing["results"]] == ["Cannot download invoice"]
    ticket = Ticket.objects.get(pk=body["id"])
    assert ticket.customer == customer
    assert ticket.first_response_due_at is not None


def test_urgent_is_refused_for_customers_with_a_clear_error(customer_api, customer):
    response = customer_api.post(
        URL, {"subject": "Site down", "description": "Help", "priority": "URGENT"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "urgent_staff_only"
    assert "URGENT" in response.json()["detail"]
    assert not Ticket.objects.filter(customer=customer).exists()


def test_staff_may_open_an_urgent_ticket_for_a_customer(customer, support_agent):
    ticket = services.open_ticket(
        customer=customer, subject="Outage", description="x", priority="URGENT", actor=support_agent
    )
    assert ticket.priority == "URGENT"


def test_bad_input_is_a_400_with_field_errors(customer_api, customer):
    response = customer_api.post(URL, {"subject": "", "priority": "NOPE"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert {"subject", "description", "priority"} <= set(response.json()["fields"])
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "method,suffix",
    [
        ("get", ""),
        ("post", "messages/"),
        ("post", "close/"),
    ],
)
def test_another_customers_ticket_is_404_on_every_endpoint(
    other_customer_api, ticket, method, suffix
):
    response = getattr(other_customer_api, method)(
        f"{URL}{ticket.pk}/{suffix}", {"body": "hi"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.messages.count() == 1


def test_anonymous_gets_401(api_client, ticket):
    assert api_client.get(URL).status_code in (401, 403)
    assert api_client.get(f"{URL}{ticket.pk}/").status_code in (401, 403)


def test_customer_reply_and_close(customer_api, ticket):
    response = customer_api.post(
        f"{URL}{ticket.pk}/messages/", {"body": "Any news?"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["from_staff"] is False
    response = customer_api.post(f"{URL}{ticket.pk}/close/")
    assert response.status_code == 200
    assert response.json()["status"] == "CLOSED"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.closed_at is not None
    again = customer_api.post(f"{URL}{ticket.pk}/messages/", {"body": "Hello?"}, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "ticket_closed"
    assert ticket.messages.count() == 2


def test_staff_reply_sets_first_response_once(ticket, support_agent, admin_user):
    services.reply(ticket=ticket, author=support_agent, body="Looking into it.")
    ticket.refresh_from_db()
    first = ticket.first_response_at
    assert first is not None
    services.reply(ticket=ticket, author=admin_user, body="Fixed.")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first


def test_customer_reply_within_14_days_reopens_a_resolved_ticket(
    customer_api, ticket, support_agent
):
    services.change_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=support_agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=13))
    response = customer_api.post(
        f"{URL}{ticket.pk}/messages/", {"body": "Still broken"}, format="json"
    )
    assert response.status_code == 201
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.resolved_at is None


def test_customer_reply_after_14_days_is_refused_and_nothing_changes(
    customer_api, ticket, support_agent
):
    services.change_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=support_agent)
    resolved_at = timezone.now() - timedelta(days=15)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=resolved_at)
    response = customer_api.post(
        f"{URL}{ticket.pk}/messages/", {"body": "Still broken"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "reopen_window_passed"
    assert "open a new ticket" in response.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.resolved_at == resolved_at
    assert ticket.messages.count() == 1


def test_customer_reply_to_waiting_ticket_moves_it_back_in_progress(
    customer_api, ticket, support_agent
):
    services.change_status(
        ticket=ticket, status=TicketStatus.WAITING_ON_CUSTOMER, actor=support_agent
    )
    customer_api.post(f"{URL}{ticket.pk}/messages/", {"body": "Here it is"}, format="json")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS


def _pdf(name="receipt.pdf", size=100, content_type="application/pdf"):
    return SimpleUploadedFile(name, b"%PDF" + b"0" * (size - 4), content_type=content_type)


def test_attachments_are_stored_and_downloadable_by_the_owner_only(
    customer_api, customer_client, client, other_customer
):
    response = customer_api.post(
        URL,
        {"subject": "See file", "description": "Attached", "attachments": [_pdf()]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    files = response.json()["messages"][0]["attachments"]
    assert [f["name"] for f in files] == ["receipt.pdf"]
    stored = StoredFile.objects.get(pk=files[0]["id"])
    assert stored.size_bytes == 100 and stored.content_type == "application/pdf"
    assert stored.owner.email == "customer@example.com"

    download = customer_client.get(files[0]["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    client.force_login(other_customer)
    assert client.get(files[0]["url"]).status_code == 404


def test_attachment_over_10_mb_is_refused_and_nothing_is_written(customer_api, customer):
    big = _pdf(size=MAX_ATTACHMENT_BYTES + 1)
    response = customer_api.post(
        URL, {"subject": "Big", "description": "x", "attachments": [big]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "attachment_too_large"
    assert not Ticket.objects.exists()
    assert not StoredFile.objects.exists()


@pytest.mark.parametrize(
    "name,content_type",
    [
        ("run.exe", "application/octet-stream"),
        ("page.html", "text/html"),
        ("fake.pdf", "application/x-msdownload"),
    ],
)
def test_attachment_types_outside_the_allow_list_are_refused(
    customer_api, ticket, name, content_type
):
    upload = SimpleUploadedFile(name, b"data", content_type=content_type)
    response = customer_api.post(
        f"{URL}{ticket.pk}/messages/", {"body": "file", "attachments": [upload]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "attachment_type_not_allowed"
    assert TicketMessage.objects.filter(ticket=ticket).count() == 1
    assert not StoredFile.objects.exists()
