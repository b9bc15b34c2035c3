from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from support import services
from support.factories import ArticleFactory
from support.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db


def test_ticket_list_shows_own_tickets_and_an_empty_state(customer_client, other_customer):
    response = customer_client.get("/support/")
    assert response.status_code == 200
    assert "You have no support tickets" in response.content.decode()
    services.open_ticket(customer=other_customer, subject="Other's secret", description="x")
    assert "Other&#x27;s secret" not in customer_client.get("/support/").content.decode()


def test_ticket_list_requires_login(client):
    response = client.get("/support/")
    assert response.status_code == 302


def test_new_ticket_page_opens_a_ticket_with_an_attachment(customer_client, customer):
    upload = SimpleUploadedFile(
        "shot.png", b"\x89PNG\r\n\x1a\n" + b"0" * 10, content_type="image/png"
    )
    response = customer_client.post(
        "/support/new/",
        {
            "subject": "Charged twice",
            "description": "Two charges on my card.",
            "priority": "MEDIUM",
            "attachments": [upload],
        },
    )
    ticket = Ticket.objects.get(customer=customer)
    assert response.status_code == 302
    assert response.url == f"/support/tickets/{ticket.pk}/"
    assert ticket.messages.get().attachments.get().name == "shot.png"


def test_new_ticket_page_refuses_urgent_and_bad_files_with_form_errors(customer_client, customer):
    response = customer_client.post(
        "/support/new/", {"subject": "Down", "description": "x", "priority": "URGENT"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    upload = SimpleUploadedFile("x.exe", b"MZ", content_type="application/octet-stream")
    response = customer_client.post(
        "/support/new/",
        {"subject": "File", "description": "x", "priority": "LOW", "attachments": [upload]},
    )
    assert response.status_code == 200
    assert "only images" in response.content.decode()
    assert not Ticket.objects.filter(customer=customer).exists()


def test_check_the_help_centre_first_shows_suggestions_without_opening(customer_client, customer):
    ArticleFactory(title="How refunds work", slug="refunds", body="Refunds take 5 days.")
    response = customer_client.post(
        "/support/new/",
        {
            "subject": "refund",
            "description": "Where is my refund?",
            "priority": "LOW",
            "suggest": "1",
        },
    )
    assert response.status_code == 200
    assert "How refunds work" in response.content.decode()
    assert not Ticket.objects.filter(customer=customer).exists()


@pytest.mark.parametrize("path", ["", "close/"])
def test_another_customers_ticket_pages_are_404(client, other_customer, ticket, path):
    client.force_login(other_customer)
    assert client.get(f"/support/tickets/{ticket.pk}/{path}").status_code == 404


def test_another_customers_ticket_cannot_be_replied_to_or_closed_by_post(
    client, other_customer, ticket
):
    client.force_login(other_customer)
    assert client.post(f"/support/tickets/{ticket.pk}/reply/", {"body": "hi"}).status_code == 404
    assert client.post(f"/support/tickets/{ticket.pk}/close/").status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.messages.count() == 1


def test_reply_and_close_through_the_pages(customer_client, ticket):
    response = customer_client.post(
        f"/support/tickets/{ticket.pk}/reply/", {"body": "More details"}
    )
    assert response.status_code == 302
    assert ticket.messages.filter(body="More details").exists()
    confirm = customer_client.get(f"/support/tickets/{ticket.pk}/close/")
    assert "Yes, close the ticket" in confirm.content.decode()
    customer_client.post(f"/support/tickets/{ticket.pk}/close/")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    page = customer_client.get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert "This ticket is closed" in page


def test_reply_page_shows_the_reopen_refusal_as_a_form_error(
    customer_client, ticket, support_agent
):
    services.change_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=support_agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=20))
    response = customer_client.post(f"/support/tickets/{ticket.pk}/reply/", {"body": "again"})
    assert response.status_code == 400
    assert "resolved too long ago" in response.content.decode()


def test_chat_page_needs_login(client):
    assert client.get("/support/chat/").status_code == 302


def test_chat_page_renders_for_a_customer(customer_client):
    response = customer_client.get("/support/chat/")
    assert response.status_code == 200
    assert "support/chat.js" in response.content.decode()


def test_ticket_list_is_paginated(customer_client, customer):
    for n in range(21):
        services.open_ticket(customer=customer, subject=f"Ticket {n:02d}", description="x")
    first = customer_client.get("/support/").content.decode()
    assert "Page 1 of 2" in first and "Ticket 20" in first and "Ticket 00" not in first
    second = customer_client.get("/support/?page=2").content.decode()
    assert "Ticket 00" in second
