"""Entitlements enforced: an operation that needs a plan entitlement is refused before any
charge (403 entitlement_required naming the plans that include it), and the credits page
shows an upgrade prompt; the customer's plan lifts both."""

import pytest

from billing.entitlements import has_entitlement, require_entitlement
from billing.services.subscriptions import lifecycle as service
from catalog.factories import PlanFactory
from credits.factories import FeatureCostFactory
from credits.models import CreditTransaction
from credits.selectors import balance_of
from credits.services import grant_credits

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(db):

    PlanFactory(
        slug="studio",
        name="Studio",
        billing_source="manual",
        entitlements=["ai_video_generation", "api_access"],
        sort_order=2,
    )
    PlanFactory(
        slug="basic",
        name="Basic",
        billing_source="manual",
        entitlements=["ai_text_chat"],
        sort_order=1,
    )
    return FeatureCostFactory(
        operation="AI_VIDEO_GENERATION",
        name="Video generation",
        cost=40,
        required_entitlement="ai_video_generation",
    )


def test_operation_needing_an_entitlement_is_refused_before_any_charge(
    no_stripe, customer, customer_api, video
):
    grant_credits(user=customer, amount=100, source="PROMO")
    answer = customer_api.post(
        "/api/v1/credits/consume/",
        {"operation": "AI_VIDEO_GENERATION", "quantity": 1},
        format="json",
    )
    assert answer.status_code == 403
    body = answer.json()
    assert body["code"] == "entitlement_required" and body["plans"] == ["studio"]
    assert "Studio" in body["detail"] and body["entitlement"] == "ai_video_generation"
    assert balance_of(user=customer) == 100
    assert not CreditTransaction.objects.filter(user=customer, kind="CONSUME").exists()

    service.subscribe(user=customer, plan="basic", interval="month")
    assert not has_entitlement(customer, "ai_video_generation")
    assert has_entitlement(customer, "ai_text_chat")


def test_the_plan_that_includes_it_lets_the_operation_through(
    no_stripe, customer, customer_api, video
):
    grant_credits(user=customer, amount=100, source="PROMO")
    service.subscribe(user=customer, plan="studio", interval="month")
    assert has_entitlement(customer, "ai_video_generation")
    require_entitlement(customer, "ai_video_generation")  # no refusal
    answer = customer_api.post(
        "/api/v1/credits/consume/",
        {"operation": "AI_VIDEO_GENERATION", "quantity": 1},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert balance_of(user=customer) == 60


def test_credits_page_shows_an_upgrade_prompt_until_the_plan_includes_it(
    no_stripe, customer, customer_client, video
):
    FeatureCostFactory(operation="AI_TEXT_CHAT", name="Text chat", cost=1)
    page = customer_client.get("/credits/").content.decode()
    assert 'data-entitlement="ai_video_generation"' in page
    assert "comes with Studio" in page and 'href="/pricing/">Upgrade</a>' in page
    assert page.count("upgrade-prompt") == 1  # the text chat needs no plan
    service.subscribe(user=customer, plan="studio", interval="month")
    assert "upgrade-prompt" not in customer_client.get("/credits/").content.decode()


def test_staff_can_set_an_operations_entitlement_in_the_admin(staff_console, video):
    page = staff_console.get(f"/admin/credits/featurecost/{video.pk}/change/")
    assert page.status_code == 200 and 'name="required_entitlement"' in page.content.decode()
