"""The remaining Stripe subscription/invoice events, and the past-due banner."""

import time

import pytest
from django.test import RequestFactory

from billing.context_processors import past_due
from billing.models import (
    CustomerBillingProfile,
    Invoice,
    InvoiceStatus,
    Subscription,
    SubscriptionStatus,
)
from billing.selectors import entitlements_for
from billing.stripe.sync import ensure_stripe_price
from billing.tests.stripe_objects import example
from billing.tests.subscription_helpers import DAY, deliver, stripe_invoice, stripe_subscription
from catalog.factories import PlanFactory

S = SubscriptionStatus


@pytest.fixture
def linked(db, customer, stripe_double):

    plan = PlanFactory(slug="pro", entitlements=["api_access"])
    CustomerBillingProfile.objects.create(user=customer, stripe_customer_id="cus_E")
    price_id = ensure_stripe_price(plan.monthly_price)
    local = Subscription.objects.create(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        status=S.INCOMPLETE,
        billing_source="stripe",
    )
    return local, price_id


@pytest.mark.django_db
def test_checkout_completed_in_subscription_mode_reads_the_subscription(
    linked, stripe_double, client, django_capture_on_commit_callbacks
):
    local, price_id = linked
    stripe_subscription(
        stripe_double,
        sub_id="sub_K",
        customer="cus_E",
        price_id=price_id,
        metadata={"subscription_id": str(local.pk)},
    )
    session = example(
        "checkout.session",
        id="cs_K",
        mode="subscription",
        subscription="sub_K",
        customer="cus_E",
        metadata={"subscription_id": str(local.pk)},
        payment_intent=None,
        status="complete",
        payment_status="paid",
    )

    deliver(client, django_capture_on_commit_callbacks, session, "checkout.session.completed")

    local.refresh_from_db()
    assert (local.status, local.stripe_subscription_id) == (S.ACTIVE, "sub_K")
    assert stripe_double.calls("GET", "/v1/subscriptions/sub_K")


@pytest.mark.django_db
def test_expired_subscription_checkout_expires_the_pending_row(
    linked, client, django_capture_on_commit_callbacks
):
    local, _ = linked
    session = example(
        "checkout.session",
        id="cs_X",
        mode="subscription",
        subscription=None,
        metadata={"subscription_id": str(local.pk)},
        status="expired",
    )
    deliver(client, django_capture_on_commit_callbacks, session, "checkout.session.expired")
    local.refresh_from_db()
    assert local.status == S.INCOMPLETE_EXPIRED


@pytest.mark.django_db
def test_trial_will_end_paused_resumed_and_unpaid(
    linked, stripe_double, client, customer, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    local, price_id = linked
    now = int(time.time())
    trial = stripe_subscription(
        stripe_double,
        sub_id="sub_T",
        customer="cus_E",
        price_id=price_id,
        status="trialing",
        trial_end=now + 3 * DAY,
        metadata={"subscription_id": str(local.pk)},
    )
    event = deliver(
        client, capture, trial, "customer.subscription.trial_will_end", created=now - 50
    )
    deliver(
        client,
        capture,
        trial,
        "customer.subscription.trial_will_end",
        created=now - 50,
        event_id=event["id"],
    )
    local.refresh_from_db()
    assert local.status == S.TRIALING
    assert local.events.filter(type="TRIAL_WILL_END").count() == 1
    deliver(
        client,
        capture,
        {**trial, "status": "paused"},
        "customer.subscription.paused",
        created=now - 40,
    )
    local.refresh_from_db()
    assert local.status == S.PAUSED and entitlements_for(user=customer) == set()
    deliver(
        client,
        capture,
        {**trial, "status": "active"},
        "customer.subscription.resumed",
        created=now - 30,
    )
    local.refresh_from_db()
    assert local.status == S.ACTIVE and entitlements_for(user=customer) == {"api_access"}
    deliver(
        client,
        capture,
        {**trial, "status": "unpaid"},
        "customer.subscription.updated",
        created=now - 20,
    )
    local.refresh_from_db()
    assert local.status == S.UNPAID and entitlements_for(user=customer) == set()
    types = set(local.events.values_list("type", flat=True))
    assert {"TRIAL_WILL_END", "PAUSED", "UNPAUSED", "STATUS_CHANGED"} <= types


@pytest.mark.django_db
def test_invoice_events_action_required_uncollectible_voided_move_forward_only(
    linked, stripe_double, client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    local, price_id = linked
    now = int(time.time())
    stripe_subscription(
        stripe_double,
        sub_id="sub_I",
        customer="cus_E",
        price_id=price_id,
        metadata={"subscription_id": str(local.pk)},
    )
    Subscription.objects.filter(pk=local.pk).update(stripe_subscription_id="sub_I", status=S.ACTIVE)
    draft = stripe_invoice(
        inv_id="in_I",
        sub_id="sub_I",
        customer="cus_E",
        amount=1000,
        status="draft",
        start=now,
        end=now + 30 * DAY,
    )
    deliver(client, capture, draft, "invoice.created", created=now - 50)
    deliver(client, capture, {**draft, "status": "open"}, "invoice.finalized", created=now - 40)
    deliver(
        client,
        capture,
        {**draft, "status": "open"},
        "invoice.payment_action_required",
        created=now - 35,
    )
    deliver(
        client,
        capture,
        {**draft, "status": "uncollectible"},
        "invoice.marked_uncollectible",
        created=now - 30,
    )
    deliver(client, capture, {**draft, "status": "open"}, "invoice.finalized", created=now - 45)
    invoice = Invoice.objects.get(stripe_invoice_id="in_I")
    assert invoice.status == InvoiceStatus.UNCOLLECTIBLE  # the late "open" did not reopen it
    assert (invoice.total, invoice.billing_source) == (1000, "stripe")
    deliver(client, capture, {**draft, "status": "void"}, "invoice.voided", created=now - 20)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    types = list(local.events.values_list("type", flat=True))
    for expected in (
        "INVOICE_CREATED",
        "PAYMENT_ACTION_REQUIRED",
        "UNCOLLECTIBLE",
        "INVOICE_VOIDED",
    ):
        assert types.count(expected) == 1, expected


@pytest.mark.django_db
def test_past_due_context_processor_only_for_the_owner(customer, other_customer):

    plan = PlanFactory()
    Subscription.objects.create(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        status=S.PAST_DUE,
        billing_source="manual",
    )
    request = RequestFactory().get("/")
    request.user = customer
    context = past_due(request)
    assert context["billing_past_due"].user == customer
    assert context["billing_fix_payment_url"] == "/billing/subscription/"
    request.user = other_customer
    assert past_due(request) == {}
