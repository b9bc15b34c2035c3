"""The webhook inbox with events in any order: an older state never undoes a newer one."""

import time

import pytest

from billing.factories import CustomerBillingProfileFactory
from billing.models import (
    CustomerBillingProfile,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    WebhookEvent,
)
from billing.stripe import inbox
from billing.tests.conftest import signed_post
from billing.tests.stripe_objects import example, wrap_event
from billing.tests.webhook_helpers import session_completed, stripe_order


def _deliver(client, event, capture):
    with capture(execute=True):
        assert signed_post(client, event).status_code == 200


@pytest.mark.django_db
def test_late_payment_failed_event_does_not_undo_a_completed_order(
    client, webhook_secret, django_capture_on_commit_callbacks
):
    order = stripe_order()
    now = int(time.time())
    succeeded = wrap_event(session_completed(order), "checkout.session.completed", created=now)
    failed_intent = example(
        "payment_intent",
        id=order.stripe_payment_intent_id,
        status="requires_payment_method",
        metadata={"order_id": str(order.pk)},
    )
    failed = wrap_event(failed_intent, "payment_intent.payment_failed", created=now - 60)

    # Delivered newest first.
    _deliver(client, succeeded, django_capture_on_commit_callbacks)
    _deliver(client, failed, django_capture_on_commit_callbacks)

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.payment_status == PaymentStatus.SUCCEEDED


@pytest.mark.django_db
def test_older_customer_update_is_ignored(
    client, webhook_secret, django_capture_on_commit_callbacks
):
    profile = CustomerBillingProfileFactory(stripe_customer_id="cus_order")
    now = int(time.time())
    newer = wrap_event(
        example("customer", id="cus_order", email="new@example.com", discount=None),
        "customer.updated",
        created=now,
    )
    older = wrap_event(
        example("customer", id="cus_order", email="old@example.com", discount=None),
        "customer.updated",
        created=now - 100,
    )

    _deliver(client, newer, django_capture_on_commit_callbacks)
    _deliver(client, older, django_capture_on_commit_callbacks)

    profile.refresh_from_db()
    assert profile.billing_email == "new@example.com"
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).count() == 2


@pytest.mark.django_db
def test_payment_method_events_in_reverse_order_follow_stripes_current_state(
    client, stripe_double, customer, django_capture_on_commit_callbacks
):
    CustomerBillingProfile.objects.create(user=customer, stripe_customer_id="cus_pm")
    method = example("payment_method", id="pm_reverse", customer=None)
    stripe_double.put("payment_method", method)  # Stripe now: detached
    attached = wrap_event({**method, "customer": "cus_pm"}, "payment_method.attached")
    detached = wrap_event(method, "payment_method.detached")

    _deliver(client, detached, django_capture_on_commit_callbacks)
    _deliver(client, attached, django_capture_on_commit_callbacks)
    assert not PaymentMethod.objects.filter(stripe_payment_method_id="pm_reverse").exists()

    stripe_double.put("payment_method", {**method, "customer": "cus_pm"})
    _deliver(
        client, wrap_event(method, "payment_method.attached"), django_capture_on_commit_callbacks
    )
    saved = PaymentMethod.objects.get(stripe_payment_method_id="pm_reverse")
    assert saved.user == customer and saved.brand == "visa" and saved.last4 == "4242"


@pytest.mark.django_db
def test_dispute_is_noted_on_the_order_once(
    client, webhook_secret, django_capture_on_commit_callbacks
):
    order = stripe_order()
    dispute = example(
        "dispute", id="dp_1", payment_intent=order.stripe_payment_intent_id, reason="fraudulent"
    )
    event = wrap_event(dispute, "charge.dispute.created")
    _deliver(client, event, django_capture_on_commit_callbacks)
    WebhookEvent.objects.update(status=WebhookEvent.Status.FAILED)
    inbox.process_event(event_id=WebhookEvent.objects.get().pk)  # replayed: no second note

    order.refresh_from_db()
    assert list(order.metadata["disputes"]) == ["dp_1"]
    assert order.internal_notes.count("Dispute dp_1") == 1
