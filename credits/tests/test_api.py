from datetime import timedelta

import pytest
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers as drf

from billing.models import Subscription, SubscriptionStatus
from catalog.factories import PlanFactory
from credits import services
from credits.api import LotSerializer
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance, CreditGrant, CreditTransaction, GrantSource

CONSUME = "/api/v1/credits/consume/"


def _balance(user) -> int:
    return CreditBalance.objects.get(user=user).balance


# --- consume ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_consume_answers_201_with_the_charge_and_the_new_balance(chat, customer, customer_api):
    funded_user(user=customer, credits=100)

    response = customer_api.post(
        CONSUME,
        {"operation": "AI_TEXT_CHAT", "quantity": 3, "details": {"prompt_tokens": 120}},
        format="json",
    )

    assert response.status_code == 201
    row = CreditTransaction.objects.get(user=customer, kind="CONSUME")
    assert response.json() == {
        "transaction_id": row.pk,
        "operation": "AI_TEXT_CHAT",
        "credits_charged": 15,
        "balance": 85,
    }
    assert row.details == {"prompt_tokens": 120}
    assert _balance(customer) == 85


@pytest.mark.django_db
def test_consume_replay_with_the_same_key_returns_the_same_response(chat, customer, customer_api):
    funded_user(user=customer, credits=100)
    body = {"operation": "AI_TEXT_CHAT"}

    first = customer_api.post(CONSUME, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = customer_api.post(CONSUME, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert CreditTransaction.objects.filter(user=customer, kind="CONSUME").count() == 1
    assert _balance(customer) == 95


@pytest.mark.django_db
def test_consume_with_a_used_key_and_a_different_body_is_422(chat, video, customer, customer_api):
    funded_user(user=customer, credits=100)
    customer_api.post(
        CONSUME, {"operation": "AI_TEXT_CHAT"}, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )

    for body in (
        {"operation": "AI_VIDEO_GENERATION"},
        {"operation": "AI_TEXT_CHAT", "quantity": 2},
    ):
        response = customer_api.post(CONSUME, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_conflict"

    assert _balance(customer) == 95


@pytest.mark.django_db
def test_a_client_key_never_collides_with_the_systems_grant_keys(chat, customer, customer_api):
    funded_user(user=customer, credits=100)

    response = customer_api.post(
        CONSUME, {"operation": "AI_TEXT_CHAT"}, format="json", HTTP_IDEMPOTENCY_KEY="signup-bonus"
    )
    bonus = services.grant_signup_bonus(user=customer)

    assert response.status_code == 201
    assert bonus.kind == "GRANT" and bonus.amount == 100
    assert _balance(customer) == 195


@pytest.mark.django_db
def test_consume_without_enough_credits_is_402_with_balance_and_cost(video, customer, customer_api):
    funded_user(user=customer, credits=30)

    response = customer_api.post(CONSUME, {"operation": "AI_VIDEO_GENERATION"}, format="json")

    assert response.status_code == 402
    body = response.json()
    assert (body["code"], body["balance"], body["cost"]) == ("insufficient_credits", 30, 40)
    assert not CreditTransaction.objects.filter(user=customer, kind="CONSUME").exists()
    assert _balance(customer) == 30


@pytest.mark.django_db
def test_consume_of_an_unknown_or_inactive_operation_is_400(chat, customer, customer_api):
    funded_user(user=customer, credits=30)
    FeatureCostFactory(operation="OLD_THING", active=False)

    for operation in ("DOES_NOT_EXIST", "OLD_THING"):
        response = customer_api.post(CONSUME, {"operation": operation}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "unknown_operation"

    assert _balance(customer) == 30


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [0, -2, "3", 1.5, True, None, 10_001])
def test_consume_with_a_quantity_that_is_not_a_positive_int_is_400(
    chat, customer, customer_api, quantity
):
    funded_user(user=customer, credits=30)

    response = customer_api.post(
        CONSUME, {"operation": "AI_TEXT_CHAT", "quantity": quantity}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "quantity" in body["fields"]
    assert _balance(customer) == 30


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [{}, {"operation": ""}, {"operation": "AI_TEXT_CHAT", "details": [1, 2]}]
)
def test_consume_with_a_missing_operation_or_bad_details_is_400(chat, customer, customer_api, body):
    funded_user(user=customer, credits=30)

    response = customer_api.post(CONSUME, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert _balance(customer) == 30


@pytest.mark.django_db
def test_consume_with_an_overlong_idempotency_key_is_400(chat, customer, customer_api):
    funded_user(user=customer, credits=30)

    response = customer_api.post(
        CONSUME, {"operation": "AI_TEXT_CHAT"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 300
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert _balance(customer) == 30


@pytest.mark.django_db
def test_every_credits_endpoint_needs_a_login(api_client):
    for method, url in (
        ("get", "/api/v1/credits/"),
        ("get", "/api/v1/credits/transactions/"),
        ("get", "/api/v1/credits/costs/"),
        ("post", CONSUME),
    ):
        response = getattr(api_client, method)(url)
        assert response.status_code in (401, 403)
        assert response.json()["code"] == "not_authenticated"


# --- summary --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_summary_shows_balance_lots_expiring_soon_and_runway(chat, customer, customer_api):
    services.grant_credits(
        user=customer,
        amount=20,
        source=GrantSource.PROMO,
        expires_at=timezone.now() + timedelta(days=3),
    )
    services.grant_credits(
        user=customer,
        amount=100,
        source=GrantSource.PURCHASE,
        expires_at=timezone.now() + timedelta(days=60),
    )
    services.grant_credits(user=customer, amount=10, source=GrantSource.SIGNUP_BONUS)
    services.consume_credits(user=customer, operation="AI_TEXT_CHAT", quantity=6)  # 30

    body = customer_api.get("/api/v1/credits/").json()

    assert body["balance"] == 100
    assert [(lot["source"], lot["remaining"]) for lot in body["lots"]] == [
        ("PURCHASE", 90),
        ("SIGNUP_BONUS", 10),
    ]
    assert body["expiring_soon"] == []  # the 3-day lot was used up first
    # 30 credits in the last 30 days = 1 a day; 100 credits last 100 days.
    assert body["runway_days"] == 100.0


@pytest.mark.django_db
def test_summary_of_a_new_customer_is_empty_with_no_runway(customer_api):
    response = customer_api.get("/api/v1/credits/")

    assert response.status_code == 200
    assert response.json() == {"balance": 0, "lots": [], "expiring_soon": [], "runway_days": None}


@pytest.mark.django_db
def test_summary_lists_lots_expiring_within_7_days(customer, customer_api):
    services.grant_credits(
        user=customer,
        amount=20,
        source=GrantSource.TRIAL,
        expires_at=timezone.now() + timedelta(days=6),
    )
    services.grant_credits(
        user=customer,
        amount=30,
        source=GrantSource.PLAN,
        expires_at=timezone.now() + timedelta(days=8),
    )

    body = customer_api.get("/api/v1/credits/").json()

    assert [lot["remaining"] for lot in body["expiring_soon"]] == [20]
    assert len(body["lots"]) == 2


# --- transactions ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_transactions_are_cursor_paginated_newest_first_and_only_mine(chat, customer, customer_api):
    funded_user(user=customer, credits=100)
    for _ in range(5):
        services.consume_credits(user=customer, operation="AI_TEXT_CHAT")
    funded_user(credits=50)  # someone else's rows

    first = customer_api.get("/api/v1/credits/transactions/?page_size=4").json()
    second = customer_api.get(first["next"]).json()

    rows = first["results"] + second["results"]
    assert len(first["results"]) == 4 and second["next"] is None
    assert [r["kind"] for r in rows] == ["CONSUME"] * 5 + ["GRANT"]
    assert [r["balance_after"] for r in rows] == [75, 80, 85, 90, 95, 100]
    mine = set(CreditTransaction.objects.filter(user=customer).values_list("pk", flat=True))
    assert {r["id"] for r in rows} == mine


@pytest.mark.django_db
def test_transactions_filter_by_kind_and_operation(chat, video, customer, customer_api):
    funded_user(user=customer, credits=200)
    services.consume_credits(user=customer, operation="AI_TEXT_CHAT")
    services.consume_credits(user=customer, operation="AI_VIDEO_GENERATION")

    by_kind = customer_api.get("/api/v1/credits/transactions/?kind=GRANT").json()["results"]
    by_op = customer_api.get("/api/v1/credits/transactions/?operation=AI_VIDEO_GENERATION").json()[
        "results"
    ]
    bad = customer_api.get("/api/v1/credits/transactions/?kind=STEAL")

    assert [(r["amount"], r["source"], r["details"]) for r in by_kind] == [(200, "PROMO", {})]
    assert [r["amount"] for r in by_op] == [-40]
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"


@pytest.mark.django_db
def test_another_customers_transactions_are_invisible(chat, customer, other_customer_api):
    funded_user(user=customer, credits=100)

    body = other_customer_api.get("/api/v1/credits/transactions/").json()

    assert body["results"] == []
    assert other_customer_api.get("/api/v1/credits/").json()["balance"] == 0


# --- costs ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_costs_list_every_active_operation_with_my_cost(chat, video, customer_api):
    FeatureCostFactory(operation="HIDDEN", cost=1, active=False)

    body = customer_api.get("/api/v1/credits/costs/").json()

    assert [(c["operation"], c["cost"], c["overridden"]) for c in body] == [
        ("AI_TEXT_CHAT", 5, False),
        ("AI_VIDEO_GENERATION", 40, False),
    ]


def _subscribe(user, overrides: dict):
    plan = PlanFactory(feature_cost_overrides=overrides)
    Subscription.objects.create(
        user=user,
        plan=plan,
        status=SubscriptionStatus.ACTIVE,
        current_period_start=timezone.now(),
        current_period_end=timezone.now() + timedelta(days=30),
    )
    return plan


@pytest.mark.django_db
def test_a_plan_override_changes_the_cost_charged_and_listed(chat, video, customer, customer_api):
    funded_user(user=customer, credits=100)
    _subscribe(customer, {"AI_TEXT_CHAT": 2, "AI_VIDEO_GENERATION": "free", "NOT_A_FEATURE": 1})

    costs = customer_api.get("/api/v1/credits/costs/").json()
    response = customer_api.post(
        CONSUME, {"operation": "AI_TEXT_CHAT", "quantity": 3}, format="json"
    )
    other = customer_api.post(CONSUME, {"operation": "AI_VIDEO_GENERATION"}, format="json")

    assert [(c["operation"], c["cost"], c["base_cost"], c["overridden"]) for c in costs] == [
        ("AI_TEXT_CHAT", 2, 5, True),
        ("AI_VIDEO_GENERATION", 40, 40, False),
    ]
    assert response.json()["credits_charged"] == 6
    assert other.json()["credits_charged"] == 40  # a malformed override is ignored
    assert _balance(customer) == 54


@pytest.mark.django_db
def test_a_plan_override_does_not_apply_to_other_customers(chat, customer, other_customer):
    _subscribe(customer, {"AI_TEXT_CHAT": 1})
    funded_user(user=other_customer, credits=10)

    row = services.consume_credits(user=other_customer, operation="AI_TEXT_CHAT")

    assert row.amount == -5


@pytest.mark.django_db
def test_schema_documents_the_credits_endpoints():
    # Only our URLs: the whole project's schema depends on every other app's serializers.
    patterns = [path("api/v1/", include("credits.api_urls"))]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)

    assert set(schema["paths"]) == {
        "/api/v1/credits/",
        "/api/v1/credits/transactions/",
        "/api/v1/credits/costs/",
        "/api/v1/credits/consume/",
    }
    consume = schema["paths"]["/api/v1/credits/consume/"]["post"]
    assert {"201", "400", "402", "422"} <= set(consume["responses"])


@pytest.mark.django_db
def test_staff_reasons_are_not_shown_to_the_customer(customer, admin_user, customer_api):
    services.adjust_credits(
        user=customer, amount=10, reason="internal: suspected fraud", actor=admin_user
    )

    body = customer_api.get("/api/v1/credits/transactions/").json()

    assert [(r["kind"], r["amount"]) for r in body["results"]] == [("ADJUST", 10)]
    assert "suspected fraud" not in str(body)


@pytest.mark.django_db
def test_summary_lots_are_what_their_declared_fields_give(customer, customer_api):
    """The summary builds each lot's dict by hand; it must equal DRF's walk of the declared
    fields (the OpenAPI schema) for the same lot, in every field."""
    services.grant_credits(
        user=customer,
        amount=40,
        source=GrantSource.PURCHASE,
        expires_at=timezone.now() + timedelta(days=2, microseconds=7),
        source_ref="order:ORD-9",
    )
    services.grant_credits(user=customer, amount=5, source=GrantSource.SIGNUP_BONUS)

    body = customer_api.get("/api/v1/credits/").json()

    lots = CreditGrant.objects.filter(user=customer).order_by("expires_at")
    walked = [drf.Serializer.to_representation(LotSerializer(), lot) for lot in lots]
    assert body["lots"] == [dict(lot) for lot in walked]
    assert body["expiring_soon"] == [dict(walked[0])]
    assert body["lots"][0]["source_ref"] == "order:ORD-9"
    assert body["lots"][1]["expires_at"] is None
