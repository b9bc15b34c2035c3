import pytest

from billing.factories import OrderFactory, SubscriptionFactory
from credits.services import adjust_credits
from support.models import Ticket
from support.panel import mrr_contribution

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


def test_customer_links_their_own_order_and_subscription(customer_api, customer):
    order = OrderFactory(user=customer)
    subscription = SubscriptionFactory(user=customer)
    response = customer_api.post(
        URL,
        {
            "subject": "Refund please",
            "description": "Order was wrong",
            "related_order": order.number,
            "related_subscription": subscription.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["related_order"] == order.number
    assert response.json()["related_subscription"] == subscription.pk
    ticket = Ticket.objects.get()
    assert ticket.related_order == order and ticket.related_subscription == subscription


def test_another_customers_order_or_subscription_cannot_be_linked(customer_api, other_customer):
    order = OrderFactory(user=other_customer)
    subscription = SubscriptionFactory(user=other_customer)
    for extra in ({"related_order": order.number}, {"related_subscription": subscription.pk}):
        response = customer_api.post(
            URL, {"subject": "x", "description": "y", **extra}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["code"] == "related_object_invalid"
    assert not Ticket.objects.exists()


def test_page_refuses_another_customers_order_with_a_form_error(customer_client, other_customer):
    order = OrderFactory(user=other_customer)
    response = customer_client.post(
        "/support/new/",
        {"subject": "x", "description": "y", "priority": "LOW", "related_order": order.number},
    )
    assert response.status_code == 200
    assert "could not find that order" in response.content.decode()
    assert not Ticket.objects.exists()


def test_billing_panel_shows_plan_orders_and_credits(client, support_agent, customer, ticket):
    subscription = SubscriptionFactory(user=customer)
    subscription.price = subscription.plan.monthly_price
    subscription.save()
    order = OrderFactory(user=customer)
    adjust_credits(user=customer, amount=250, reason="welcome", actor=support_agent)
    client.force_login(support_agent)
    html = client.get(f"/admin/support/ticket/{ticket.pk}/change/").content.decode()
    assert str(subscription.plan) in html
    assert "Active" in html
    assert order.number in html
    assert "Credits: balance 250" in html
    assert "$10.00 per month" in html and "minor units" not in html


@pytest.mark.parametrize(
    "price_attr,quantity,expected",
    [
        ("monthly_price", 1, 1000),
        ("monthly_price", 3, 3000),
        ("yearly_price", 1, 833),  # 10000 / 12, rounded half up
    ],
)
def test_mrr_contribution_normalises_to_a_month(customer, price_attr, quantity, expected):
    subscription = SubscriptionFactory(user=customer, quantity=quantity)
    subscription.price = getattr(subscription.plan, price_attr)
    assert mrr_contribution(subscription) == {"amount": expected, "currency": "usd"}


def test_trialing_subscription_adds_no_mrr(customer):
    subscription = SubscriptionFactory(user=customer, status="TRIALING")
    subscription.price = subscription.plan.monthly_price
    assert mrr_contribution(subscription) is None
