"""High priority, the highest a customer may choose, comes with a plan including
``priority_support``: the API refuses it with 403 ``entitlement_required`` naming the plans,
the page answers with a form error beside the field and an upgrade prompt."""

import pytest

from billing.factories import give_entitlements
from catalog.factories import PlanFactory
from support import services
from support.models import Ticket

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


def _ticket(priority: str) -> dict:
    return {
        "subject": "Export is stuck",
        "description": "Since this morning.",
        "priority": priority,
    }


def test_the_api_refuses_high_priority_without_priority_support(customer, customer_api):
    PlanFactory(name="Business", slug="business", entitlements=["priority_support"])

    response = customer_api.post(URL, _ticket("HIGH"), format="json")

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "entitlement_required"
    assert body["entitlement"] == "priority_support" and body["plans"] == ["business"]
    assert "Business" in body["detail"]
    assert not Ticket.objects.filter(customer=customer).exists()
    # Lower priorities stay open to everyone.
    assert customer_api.post(URL, _ticket("MEDIUM"), format="json").status_code == 201


def test_a_plan_with_priority_support_opens_high_priority_tickets(customer, customer_api):
    give_entitlements(customer, "priority_support")

    response = customer_api.post(URL, _ticket("HIGH"), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["priority"] == "HIGH"


def test_staff_open_high_priority_tickets_for_any_customer(customer, support_agent):
    ticket = services.open_ticket(
        customer=customer, actor=support_agent, subject="s", description="d", priority="HIGH"
    )
    assert ticket.priority == "HIGH"


def test_the_page_shows_the_refusal_beside_the_field_and_an_upgrade_prompt(customer_client):
    PlanFactory(name="Business", slug="business", entitlements=["priority_support"])
    page = customer_client.get("/support/new/").content.decode()
    assert 'data-entitlement="priority_support"' in page and "Business" in page

    response = customer_client.post("/support/new/", _ticket("HIGH"))

    assert response.status_code == 200
    form = response.context["form"]
    assert "Business" in form.errors["priority"][0]
    assert 'class="upgrade-prompt"' in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_page_has_no_prompt_for_a_customer_with_priority_support(customer, customer_client):
    give_entitlements(customer, "priority_support")

    response = customer_client.post("/support/new/", _ticket("HIGH"))

    assert response.status_code == 302
    assert Ticket.objects.get(customer=customer).priority == "HIGH"
    assert 'class="upgrade-prompt"' not in customer_client.get("/support/new/").content.decode()
