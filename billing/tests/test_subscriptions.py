"""Stripe subscriptions end to end: the API, the Stripe double, and signed webhooks."""

import time

import pytest
from django.test import Client

from billing.models import (
    CustomerBillingProfile,
    Discount,
    Invoice,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
)
from billing.tests import subscription_lifecycle_steps as steps
from billing.tests.subscription_helpers import DAY, deliver, stripe_invoice, stripe_subscription
from catalog.factories import PlanFactory
from core.models import AuditLog
from credits.models import CreditGrant

S = SubscriptionStatus


@pytest.fixture
def plan(db):

    plan = PlanFactory(
        slug="pro",
        name="Pro",
        credits_per_period=1000,
        trial_credits=50,
        entitlements=["api_access", "priority_support"],
    )
    plan.product.trial_days = 14
    plan.product.save(update_fields=["trial_days"])
    return plan


@pytest.fixture
def big_plan(db):

    plan = PlanFactory(slug="team", name="Team", credits_per_period=5000)
    plan.monthly_price.unit_amount = 3000
    plan.monthly_price.save(update_fields=["unit_amount"])
    return plan


def _subscribe(api, slug="pro", interval="month", **extra):
    return api.post(
        "/api/v1/subscriptions/", {"plan": slug, "interval": interval, **extra}, format="json"
    )


def _started(stripe_double, customer_api, customer, slug="pro"):
    """Subscribe through the API; return (local row, Stripe customer id, Stripe price id)."""
    response = _subscribe(customer_api, slug)
    assert response.status_code == 201, response.json()
    local = Subscription.objects.get(pk=response.json()["subscription"]["id"])
    cus = CustomerBillingProfile.objects.get(user=customer).stripe_customer_id
    local.price.refresh_from_db()
    return local, cus, local.price.stripe_price_id


def _active(stripe_double, client, capture, local, cus, price_id, *, sub_id="sub_A", created=None):
    now = int(time.time())
    obj = stripe_subscription(
        stripe_double,
        sub_id=sub_id,
        customer=cus,
        price_id=price_id,
        start=now - DAY,
        end=now + 29 * DAY,
        metadata={"subscription_id": str(local.pk)},
    )
    deliver(client, capture, obj, "customer.subscription.created", created=created or now - 60)
    local.refresh_from_db()
    return obj


@pytest.mark.django_db
def test_subscribe_starts_stripe_checkout_in_subscription_mode_with_product_trial(
    stripe_double, customer_api, customer, plan
):
    response = _subscribe(customer_api, discount_code="")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["redirect_url"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
    local = Subscription.objects.get(pk=body["subscription"]["id"])
    assert (local.status, local.user, local.plan, local.price) == (
        S.INCOMPLETE,
        customer,
        plan,
        plan.monthly_price,
    )
    [session] = stripe_double.calls("POST", "/v1/checkout/sessions")
    plan.monthly_price.refresh_from_db()
    assert session.params["mode"] == "subscription"
    assert session.params["line_items"] == [
        {"price": plan.monthly_price.stripe_price_id, "quantity": "1"}
    ]
    assert session.params["subscription_data"]["trial_period_days"] == "14"
    assert session.params["subscription_data"]["metadata"]["subscription_id"] == str(local.pk)
    assert session.idempotency_key == f"checkout-subscription-{local.pk}"
    # The plan's price was pushed to Stripe once, with keys per catalog row.
    [price_call] = stripe_double.calls("POST", "/v1/prices")
    assert price_call.params["recurring"] == {"interval": "month", "interval_count": "1"}
    assert price_call.idempotency_key == f"catalog-price-push-{plan.monthly_price.pk}"


@pytest.mark.django_db
def test_subscribe_refuses_bad_input_with_stable_codes(stripe_double, customer_api, plan):
    assert _subscribe(customer_api, slug="nope").json()["code"] == "plan_not_found"
    response = _subscribe(customer_api, interval="week")
    assert response.status_code == 400
    assert "interval" in response.json()["fields"]
    plan.yearly_price = None
    plan.save(update_fields=["yearly_price"])
    response = _subscribe(customer_api, interval="year")
    assert (response.status_code, response.json()["code"]) == (400, "plan_unavailable")
    response = _subscribe(customer_api, discount_code="NOSUCH")
    assert (response.status_code, response.json()["code"]) == (400, "discount_not_found")
    assert not Subscription.objects.exclude(status=S.INCOMPLETE_EXPIRED).exists()


@pytest.mark.django_db
def test_second_live_subscription_is_refused(
    stripe_double, customer_api, customer, plan, client, django_capture_on_commit_callbacks
):
    local, cus, price_id = _started(stripe_double, customer_api, customer)
    _active(stripe_double, client, django_capture_on_commit_callbacks, local, cus, price_id)
    assert local.status == S.ACTIVE

    response = _subscribe(customer_api)

    assert response.status_code == 409
    assert response.json()["code"] == "subscription_exists"
    assert response.json()["subscription"] == local.pk
    assert Subscription.objects.filter(user=customer).count() == 1


@pytest.mark.django_db
def test_abandoned_checkout_does_not_block_a_new_one(stripe_double, customer_api, customer, plan):
    first = _subscribe(customer_api).json()["subscription"]["id"]
    second = _subscribe(customer_api)
    assert second.status_code == 201
    assert Subscription.objects.get(pk=first).status == S.INCOMPLETE_EXPIRED


@pytest.mark.django_db
def test_full_lifecycle_trial_active_renewal_past_due_recovered_canceled(
    stripe_double,
    customer_api,
    customer,
    plan,
    client,
    customer_client,
    django_capture_on_commit_callbacks,
):
    local, cus, price_id = _started(stripe_double, customer_api, customer)
    now = int(time.time())
    run = steps.Lifecycle(
        stripe_double=stripe_double,
        client=client,
        capture=django_capture_on_commit_callbacks,
        customer=customer,
        local=local,
        cus=cus,
        price_id=price_id,
        now=now,
        t=now - 3000,
    )
    steps.trial_starts(run)
    p1 = steps.first_period_paid(run)
    renewed, p2 = steps.renewed(run, p1)
    steps.payment_fails_then_recovers(run, p2, customer_client)
    steps.canceled(run, renewed, customer_api)


@pytest.mark.django_db
def test_events_in_reverse_order_never_move_backwards(
    stripe_double, customer_api, customer, plan, client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    local, cus, price_id = _started(stripe_double, customer_api, customer)
    now = int(time.time())
    trialing = stripe_subscription(
        stripe_double,
        sub_id="sub_R",
        customer=cus,
        price_id=price_id,
        status="trialing",
        trial_end=now + DAY,
        metadata={"subscription_id": str(local.pk)},
    )
    active = {**trialing, "status": "active", "trial_end": now - 10}
    past_due = {**trialing, "status": "past_due"}

    deliver(client, capture, active, "customer.subscription.updated", created=now - 10)
    deliver(client, capture, past_due, "customer.subscription.updated", created=now - 20)
    deliver(client, capture, trialing, "customer.subscription.created", created=now - 30)

    local.refresh_from_db()
    assert local.status == S.ACTIVE
    assert local.stripe_state_at.timestamp() == now - 10
    assert not CreditGrant.objects.filter(user=customer, source="TRIAL").exists()


@pytest.mark.django_db
def test_invoice_before_its_subscription_reads_the_subscription_from_stripe(
    stripe_double, customer_api, customer, plan, client, django_capture_on_commit_callbacks
):
    local, cus, price_id = _started(stripe_double, customer_api, customer)
    now = int(time.time())
    stripe_subscription(
        stripe_double,
        sub_id="sub_E",
        customer=cus,
        price_id=price_id,
        start=now,
        end=now + 30 * DAY,
        metadata={"subscription_id": str(local.pk)},
    )
    paid = stripe_invoice(
        inv_id="in_E",
        sub_id="sub_E",
        customer=cus,
        amount=1000,
        status="paid",
        billing_reason="subscription_create",
        start=now,
        end=now + 30 * DAY,
        paid_at=now,
    )

    deliver(client, django_capture_on_commit_callbacks, paid, "invoice.paid", created=now)

    local.refresh_from_db()
    assert (local.status, local.stripe_subscription_id) == (S.ACTIVE, "sub_E")
    assert [g.amount for g in steps.plan_grants(customer)] == [1000]


@pytest.mark.django_db
def test_cancel_at_period_end_resume_and_cancel_now(
    stripe_double, customer_api, customer, plan, client, django_capture_on_commit_callbacks
):
    local, cus, price_id = _started(stripe_double, customer_api, customer)
    _active(stripe_double, client, django_capture_on_commit_callbacks, local, cus, price_id)
    url = f"/api/v1/subscriptions/{local.pk}"

    assert customer_api.post(f"{url}/resume/").json()["code"] == "subscription_not_resumable"
    response = customer_api.post(f"{url}/cancel/", {"at_period_end": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["cancel_at_period_end"] is True
    [call] = stripe_double.calls("POST", "/v1/subscriptions/sub_A")
    assert call.params["cancel_at_period_end"] == "true"
    local.refresh_from_db()
    assert (local.status, local.cancel_at_period_end) == (S.ACTIVE, True)

    response = customer_api.post(f"{url}/resume/")
    assert response.status_code == 200 and response.json()["cancel_at_period_end"] is False

    response = customer_api.post(f"{url}/cancel/", {"at_period_end": False}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "CANCELED"
    assert stripe_double.calls("DELETE", "/v1/subscriptions/sub_A")
    response = customer_api.post(f"{url}/cancel/", {"at_period_end": False}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "subscription_not_cancelable")
    bad = customer_api.post(f"{url}/cancel/", {"at_period_end": "maybe"}, format="json")
    assert bad.status_code == 400
    types = set(local.events.values_list("type", flat=True))
    assert {"CANCEL_SCHEDULED", "RESUMED", "CANCELED"} <= types
    audited = list(
        AuditLog.objects.filter(
            resource_type="billing.Subscription",
            resource_id=str(local.pk),
            context__operation__in=["subscription_cancel", "subscription_resume"],
        )
        .order_by("pk")
        .values_list("context__operation", "context__at_period_end", "actor_id")
    )
    assert audited == [
        ("subscription_cancel", True, customer.pk),
        ("subscription_resume", None, customer.pk),
        ("subscription_cancel", False, customer.pk),
    ]


@pytest.mark.django_db
def test_plan_change_preview_then_confirm_charges_what_was_previewed(
    stripe_double,
    customer_api,
    customer,
    plan,
    big_plan,
    client,
    django_capture_on_commit_callbacks,
):
    local, cus, price_id = _started(stripe_double, customer_api, customer)
    obj = _active(stripe_double, client, django_capture_on_commit_callbacks, local, cus, price_id)
    url = f"/api/v1/subscriptions/{local.pk}/change-plan/"

    response = customer_api.post(
        url, {"plan": "team", "interval": "month", "preview": True}, format="json"
    )

    assert response.status_code == 200, response.json()
    preview = response.json()
    item = obj["items"]["data"][0]
    start, end = item["current_period_start"], item["current_period_end"]
    left = (end - preview["proration_date"]) / (end - start)
    assert preview["amount_due"] == round(3000 * left) - round(1000 * left)
    assert [line["amount"] for line in preview["lines"]] == [
        -round(1000 * left),
        round(3000 * left),
    ]
    assert preview["applied"] is False
    local.refresh_from_db()
    assert local.plan == plan  # a preview changes nothing
    assert not stripe_double.calls("POST", "/v1/subscriptions/")

    response = customer_api.post(
        url,
        {
            "plan": "team",
            "interval": "month",
            "preview": False,
            "proration_date": preview["proration_date"],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["applied"] is True
    [update] = stripe_double.calls("POST", "/v1/subscriptions/sub_A")
    big_plan.monthly_price.refresh_from_db()
    assert update.params["items"] == [
        {"id": item["id"], "price": big_plan.monthly_price.stripe_price_id}
    ]
    assert update.params["proration_behavior"] == "always_invoice"
    assert update.params["proration_date"] == str(preview["proration_date"])
    local.refresh_from_db()
    assert (local.plan, local.price) == (big_plan, big_plan.monthly_price)
    assert local.events.filter(type="PLAN_CHANGED").exists()

    same = customer_api.post(url, {"plan": "team", "interval": "month"}, format="json")
    assert (same.status_code, same.json()["code"]) == (400, "plan_change_invalid")


@pytest.mark.django_db
def test_update_payment_method_opens_the_billing_portal(
    stripe_double, customer_api, customer, plan, client, django_capture_on_commit_callbacks
):
    local, cus, price_id = _started(stripe_double, customer_api, customer)
    response = customer_api.post(f"/api/v1/subscriptions/{local.pk}/payment-method/")
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://billing.stripe.test/p/session/")
    [call] = stripe_double.calls("POST", "/v1/billing_portal/sessions")
    assert call.params["customer"] == cus


@pytest.mark.django_db
def test_discount_code_becomes_a_one_time_stripe_coupon(stripe_double, customer_api, plan):

    code = Discount.objects.create(code="HALF", type="PERCENTAGE", percent_off=50, max_uses=5)
    response = _subscribe(customer_api, discount_code="half")
    assert response.status_code == 201, response.json()
    [coupon] = stripe_double.calls("POST", "/v1/coupons")
    assert (coupon.params["percent_off"], coupon.params["duration"]) == ("50.00", "once")
    [session] = stripe_double.calls("POST", "/v1/checkout/sessions")
    assert session.params["discounts"][0]["coupon"].startswith("co_test_")
    code.refresh_from_db()
    assert code.uses_count == 1


@pytest.mark.django_db
def test_idor_every_subscription_and_invoice_endpoint_answers_404(
    stripe_double,
    customer_api,
    other_customer_api,
    customer,
    plan,
    client,
    django_capture_on_commit_callbacks,
    other_customer,
):

    local, cus, price_id = _started(stripe_double, customer_api, customer)
    _active(stripe_double, client, django_capture_on_commit_callbacks, local, cus, price_id)
    invoice = Invoice.objects.create(
        number="INV-TEST-1",
        user=customer,
        subscription=local,
        currency="usd",
        subtotal=1000,
        total=1000,
        amount_due=1000,
    )
    base = f"/api/v1/subscriptions/{local.pk}"
    assert other_customer_api.get(f"{base}/").status_code == 404
    for path, body in (
        (f"{base}/cancel/", {"at_period_end": True}),
        (f"{base}/resume/", {}),
        (f"{base}/change-plan/", {"plan": "pro", "interval": "year"}),
        (f"{base}/payment-method/", {}),
    ):
        response = other_customer_api.post(path, body, format="json")
        assert response.status_code == 404, path
        assert response.json()["code"] == "subscription_not_found"
    assert other_customer_api.get("/api/v1/subscriptions/").json()["results"] == []
    assert other_customer_api.get(f"/api/v1/invoices/{invoice.number}/").status_code == 404
    assert other_customer_api.get("/api/v1/invoices/").json()["results"] == []
    browser = Client()
    browser.force_login(other_customer)
    for path in (
        f"/billing/subscriptions/{local.pk}/cancel/",
        f"/billing/subscriptions/{local.pk}/resume/",
        f"/billing/subscriptions/{local.pk}/payment-method/",
    ):
        assert browser.post(path).status_code == 404, path
    assert browser.get(f"/billing/subscriptions/{local.pk}/change-plan/").status_code == 404
    assert browser.get(f"/billing/invoices/{invoice.number}/").status_code == 404
    assert browser.get(f"/billing/invoices/{invoice.number}/pdf/").status_code == 404
    local.refresh_from_db()
    assert (local.status, local.cancel_at_period_end) == (S.ACTIVE, False)
    assert SubscriptionEvent.objects.filter(subscription=local, source="customer").count() == 1
