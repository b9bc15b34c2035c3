"""Strict string inputs and a truthful schema for the support API (found by the API fuzzer)."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from support.factories import TicketFactory
from support.models import ChatMessage, Conversation, Ticket, TicketMessage

pytestmark = pytest.mark.django_db


def test_open_ticket_refuses_a_number_as_description(customer_api, customer):
    response = customer_api.post(
        "/api/v1/tickets/", {"subject": "Help", "description": 0}, format="json"
    )
    assert response.status_code == 400
    assert "description" in response.json()["fields"]
    assert not Ticket.objects.filter(customer=customer).exists()


def test_reply_refuses_a_number_as_body(customer_api, customer):
    ticket = TicketFactory(customer=customer)
    before = TicketMessage.objects.filter(ticket=ticket).count()
    response = customer_api.post(
        f"/api/v1/tickets/{ticket.pk}/messages/", {"body": 1}, format="json"
    )
    assert response.status_code == 400
    assert "body" in response.json()["fields"]
    assert TicketMessage.objects.filter(ticket=ticket).count() == before


def test_chat_refuses_a_number_as_message(customer_api, customer):
    response = customer_api.post("/api/v1/chat/", {"message": 5}, format="json")
    assert response.status_code == 400
    assert "message" in response.json()["fields"]
    assert not Conversation.objects.filter(customer=customer).exists()
    assert not ChatMessage.objects.exists()


def test_schema_documents_the_ticket_list_as_a_page_and_open_dates_as_nullable():
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = json.loads(OpenApiJsonRenderer().render(raw))
    listed = schema["paths"]["/api/v1/tickets/"]["get"]["responses"]["200"]
    ref = listed["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {
        "count",
        "next",
        "previous",
        "results",
    }
    ticket = schema["components"]["schemas"]["TicketOut"]["properties"]
    assert all(ticket[f].get("nullable") for f in ("first_response_at", "resolved_at", "closed_at"))
    chat = schema["paths"]["/api/v1/chat/"]["post"]["responses"]
    assert "404" in chat
