"""One membership status, the same on /api/v1/membership/, /api/v1/me/ and the account page."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.factories import SubscriptionFactory
from catalog.factories import PlanFactory

pytestmark = pytest.mark.django_db


def _membership(customer_api):
    response = customer_api.get("/api/v1/membership/")
    assert response.status_code == 200
    me = customer_api.get("/api/v1/me/").json()["membership"]
    assert me == response.json()  # one selector, two places
    return response.json()


def test_no_subscription_is_none(customer_api, customer_client):
    body = _membership(customer_api)
    assert body == {
        "status": "NONE",
        "has_access": False,
        "plan": None,
        "period_end": None,
        "cancel_at_period_end": False,
        "subscription_id": None,
        "subscription_status": None,
    }
    page = customer_client.get("/account/").content.decode()
    assert 'data-membership="NONE"' in page and "See the plans" in page


def test_active_wins_over_an_older_canceled_one(customer_api, customer, customer_client):
    now = timezone.now()
    SubscriptionFactory(
        user=customer,
        status="CANCELED",
        plan=PlanFactory(name="Old"),
        current_period_end=now - timedelta(days=40),
        canceled_at=now,
    )
    plan = PlanFactory(name="Pro", entitlements=["api"], storage_quota_bytes=10_000)
    active = SubscriptionFactory(
        user=customer, plan=plan, status="ACTIVE", current_period_end=now + timedelta(days=12)
    )
    body = _membership(customer_api)
    assert body["status"] == "ACTIVE" and body["has_access"] is True
    assert body["plan"]["name"] == "Pro" and body["plan"]["entitlements"] == ["api"]
    assert body["plan"]["storage_quota_bytes"] == 10_000
    assert body["subscription_id"] == active.pk
    assert body["period_end"].startswith(active.current_period_end.date().isoformat())
    page = customer_client.get("/account/").content.decode()
    assert 'data-membership="ACTIVE"' in page and "Pro" in page and "Renews" in page


def test_trialing_reports_the_trial_end(customer_api, customer):
    trial_end = timezone.now() + timedelta(days=5)
    SubscriptionFactory(
        user=customer,
        status="TRIALING",
        trial_end=trial_end,
        current_period_end=trial_end + timedelta(days=1),
    )
    body = _membership(customer_api)
    assert body["status"] == "TRIALING" and body["has_access"] is True
    assert body["period_end"].startswith(trial_end.date().isoformat())


def test_past_due_keeps_access_through_the_grace_period_only(customer_api, customer):
    sub = SubscriptionFactory(
        user=customer, status="PAST_DUE", past_due_since=timezone.now() - timedelta(days=1)
    )
    body = _membership(customer_api)
    assert body["status"] == "PAST_DUE" and body["has_access"] is True
    sub.past_due_since = timezone.now() - timedelta(days=60)
    sub.save()
    body = _membership(customer_api)
    assert body["status"] == "PAST_DUE" and body["has_access"] is False


@pytest.mark.parametrize(
    "status, expected",
    [
        ("UNPAID", "PAST_DUE"),
        ("CANCELED", "CANCELED"),
        ("PAUSED", "CANCELED"),
        ("INCOMPLETE_EXPIRED", "CANCELED"),
        ("INCOMPLETE", "NONE"),
    ],
)
def test_every_processor_status_maps_to_one_membership(customer_api, customer, status, expected):
    SubscriptionFactory(
        user=customer, status=status, past_due_since=timezone.now() - timedelta(days=60)
    )
    body = _membership(customer_api)
    assert body["status"] == expected
    assert body["has_access"] is False
    assert body["subscription_status"] == (None if expected == "NONE" else status)


def test_another_customers_subscription_is_not_mine(customer_api, other_customer):
    SubscriptionFactory(user=other_customer, status="ACTIVE")
    assert _membership(customer_api)["status"] == "NONE"


def test_signed_out_is_401(api_client):
    response = api_client.get("/api/v1/membership/")
    assert response.status_code == 401


def test_documented_in_the_openapi_schema(client):
    schema = json.loads(client.get("/api/v1/schema/?format=json").content)
    operation = schema["paths"]["/api/v1/membership/"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    status = component["properties"]["status"]
    enum_ref = status.get("$ref") or status.get("allOf", [{}])[0].get("$ref")
    values = (
        schema["components"]["schemas"][enum_ref.rsplit("/", 1)[1]]["enum"]
        if enum_ref
        else status["enum"]
    )
    assert values == ["ACTIVE", "TRIALING", "PAST_DUE", "CANCELED", "NONE"]
    me = schema["components"]["schemas"]["User"]["properties"]["membership"]
    assert (me.get("$ref") or me["allOf"][0]["$ref"]) == ref
