"""Refunds: bounds, concurrency, Stripe's Refund API through the double, state events."""

import threading

import pytest
from django.db import connection

from billing.factories import OrderFactory, OrderItemFactory
from billing.models import (
    BillingSource,
    Order,
    OrderStatus,
    PaymentStatus,
    Refund,
    RefundReason,
    WebhookEvent,
)
from billing.services.payments import mark_order_paid
from billing.services.refunds import create_refund, retry_pending_refunds
from billing.stripe.inbox import process_event
from billing.tests.conftest import signed_post
from billing.tests.stripe_objects import example, wrap_event
from core.api import DomainError
from core.models import AuditLog
from credits.models import CreditBalance


def _paid_manual_order(user, total=1000, **item):
    order = OrderFactory(user=user, subtotal=total)
    OrderItemFactory(order=order, unit_amount=total, **item)
    mark_order_paid(
        order_id=order.pk,
        provider="manual",
        provider_id=f"bank-{order.pk}",
        amount=total,
        currency="usd",
    )
    order.refresh_from_db()
    return order


def _paid_stripe_order(double, user, total=1000, **item):
    intent = double.put(
        "payment_intent",
        example(
            "payment_intent",
            id=f"pi_refund_{user.pk}_{total}",
            amount=total,
            currency="usd",
            status="succeeded",
            latest_charge=f"ch_refund_{user.pk}_{total}",
        ),
    )
    order = OrderFactory(
        user=user,
        subtotal=total,
        billing_source=BillingSource.STRIPE,
        stripe_payment_intent_id=intent["id"],
    )
    OrderItemFactory(order=order, unit_amount=total, **item)
    mark_order_paid(
        order_id=order.pk, provider="stripe", provider_id=intent["id"], amount=total, currency="usd"
    )
    order.refresh_from_db()
    return order


@pytest.mark.django_db
def test_staff_partial_refund_from_admin_form(staff_console, customer, admin_user):
    order = _paid_manual_order(customer, total=1000)
    form = staff_console.get(f"/admin/billing/order/{order.pk}/refund/")
    assert form.status_code == 200 and "$10.00" in form.content.decode()

    response = staff_console.post(
        f"/admin/billing/order/{order.pk}/refund/",
        {"amount": "2.50", "reason": RefundReason.REQUESTED_BY_CUSTOMER, "notes": "Late"},
    )

    assert response.status_code == 302
    order.refresh_from_db()
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.notes) == (250, Refund.Status.SUCCEEDED, "Late")
    assert refund.requested_by == admin_user
    assert order.status == OrderStatus.PARTIALLY_REFUNDED and order.refunded_amount == 250
    assert AuditLog.objects.filter(
        action="REFUND", resource_id=str(order.pk), actor=admin_user
    ).exists()


@pytest.mark.django_db
def test_admin_refund_action_opens_the_form(staff_console, customer):
    order = _paid_manual_order(customer)
    response = staff_console.post(
        "/admin/billing/order/", {"action": "action_refund", "_selected_action": [order.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/billing/order/{order.pk}/refund/"


@pytest.mark.django_db
def test_over_refund_is_refused_and_writes_nothing(staff_console, customer, admin_user):
    order = _paid_manual_order(customer, total=1000)
    create_refund(order_id=order.pk, amount=700, reason=RefundReason.OTHER, actor=admin_user)

    response = staff_console.post(
        f"/admin/billing/order/{order.pk}/refund/", {"amount": "3.01", "reason": RefundReason.OTHER}
    )

    assert response.status_code == 400
    assert "larger than what is left" in response.content.decode()
    order.refresh_from_db()
    assert order.refunded_amount == 700 and Refund.objects.count() == 1
    with pytest.raises(DomainError) as refused:
        create_refund(order_id=order.pk, amount=301, reason=RefundReason.OTHER, actor=admin_user)
    assert refused.value.code == "refund_exceeds_remaining"
    assert refused.value.extra["remaining"] == 300


@pytest.mark.django_db
def test_full_refund_marks_order_refunded(customer, admin_user):
    order = _paid_manual_order(customer, total=1000)
    create_refund(order_id=order.pk, amount=400, reason=RefundReason.OTHER, actor=admin_user)
    create_refund(order_id=order.pk, amount=600, reason=RefundReason.OTHER, actor=admin_user)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.payment_status == PaymentStatus.REFUNDED
    assert order.refunded_amount == order.total
    with pytest.raises(DomainError) as refused:
        create_refund(order_id=order.pk, amount=1, reason=RefundReason.OTHER, actor=admin_user)
    assert refused.value.code == "refund_not_allowed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount, code",
    [(0, "refund_amount_invalid"), (-5, "refund_amount_invalid"), ("10", "refund_amount_invalid")],
)
def test_refund_amount_must_be_a_positive_integer(customer, admin_user, amount, code):
    order = _paid_manual_order(customer)
    with pytest.raises(DomainError) as refused:
        create_refund(order_id=order.pk, amount=amount, reason=RefundReason.OTHER, actor=admin_user)
    assert refused.value.code == code
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_unpaid_order_cannot_be_refunded(customer, admin_user):
    order = OrderFactory(user=customer)
    with pytest.raises(DomainError) as refused:
        create_refund(order_id=order.pk, amount=100, reason=RefundReason.OTHER, actor=admin_user)
    assert refused.value.code == "refund_not_allowed"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_partial_refunds_cannot_exceed_the_total(customer, admin_user):
    order = _paid_manual_order(customer, total=1000)
    barrier = threading.Barrier(2)
    outcomes = []

    def refund():
        try:
            barrier.wait()
            create_refund(
                order_id=order.pk, amount=600, reason=RefundReason.OTHER, actor=admin_user
            )
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok", "refund_exceeds_remaining"]
    order.refresh_from_db()
    assert order.refunded_amount == 600 and Refund.objects.count() == 1


@pytest.mark.django_db
def test_stripe_refund_goes_through_stripes_refund_api_with_its_idempotency_key(
    stripe_double, customer, admin_user, django_capture_on_commit_callbacks
):
    order = _paid_stripe_order(stripe_double, customer, total=1000)

    with django_capture_on_commit_callbacks(execute=True):
        refund = create_refund(
            order_id=order.pk,
            amount=300,
            reason=RefundReason.REQUESTED_BY_CUSTOMER,
            actor=admin_user,
        )
    assert refund.status == Refund.Status.PENDING  # returned before Stripe was called

    [call] = stripe_double.calls("POST", "/v1/refunds")
    assert call.params["amount"] == "300"
    assert call.params["payment_intent"] == order.stripe_payment_intent_id
    assert call.params["reason"] == "requested_by_customer"
    assert call.idempotency_key == refund.idempotency_key
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.stripe_refund_id
    assert order.status == OrderStatus.PARTIALLY_REFUNDED and order.refunded_amount == 300


@pytest.mark.django_db
def test_pending_stripe_refund_follows_refund_updated_and_ignores_stale_events(
    stripe_double, client, customer, admin_user, django_capture_on_commit_callbacks
):
    order = _paid_stripe_order(stripe_double, customer, total=1000)
    stripe_double.refund_status = "pending"
    with django_capture_on_commit_callbacks(execute=True):
        refund = create_refund(
            order_id=order.pk, amount=1000, reason=RefundReason.OTHER, actor=admin_user
        )
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING
    stripe_refund = stripe_double.get("refund", refund.stripe_refund_id)

    succeeded = wrap_event(
        {**stripe_refund, "status": "succeeded"}, "refund.updated", created=2_000_000_000
    )
    stale = wrap_event(
        {**stripe_refund, "status": "pending"}, "refund.updated", created=1_900_000_000
    )
    for event in (succeeded, stale):
        with django_capture_on_commit_callbacks(execute=True):
            assert signed_post(client, event).status_code == 200

    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert order.status == OrderStatus.REFUNDED and order.refunded_amount == 1000


@pytest.mark.django_db
def test_refused_stripe_refund_fails_and_gives_the_amount_back(
    stripe_double, customer, admin_user, django_capture_on_commit_callbacks
):
    order = _paid_stripe_order(stripe_double, customer, total=1000)
    stripe_double.fail_next.append(
        (400, {"error": {"type": "invalid_request_error", "message": "Charge already refunded"}})
    )
    with django_capture_on_commit_callbacks(execute=True):
        refund = create_refund(
            order_id=order.pk, amount=500, reason=RefundReason.OTHER, actor=admin_user
        )
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert "already refunded" in refund.failure_reason
    assert order.refunded_amount == 0 and order.status == OrderStatus.COMPLETED


@pytest.mark.django_db
def test_stripe_outage_keeps_refund_pending_and_retry_reuses_the_key(
    stripe_double, customer, admin_user, django_capture_on_commit_callbacks
):
    order = _paid_stripe_order(stripe_double, customer, total=1000)
    stripe_double.fail_next.append((500, {"error": {"type": "api_error", "message": "Down"}}))
    with django_capture_on_commit_callbacks(execute=True):
        refund = create_refund(
            order_id=order.pk, amount=500, reason=RefundReason.OTHER, actor=admin_user
        )
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING and "retry" in refund.failure_reason.lower()

    assert retry_pending_refunds() == 1

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    keys = {call.idempotency_key for call in stripe_double.calls("POST", "/v1/refunds")}
    assert keys == {refund.idempotency_key}


@pytest.mark.django_db
def test_refund_made_in_stripe_dashboard_is_recorded_from_charge_refunded(
    stripe_double, client, customer, django_capture_on_commit_callbacks
):
    order = _paid_stripe_order(stripe_double, customer, total=1000)
    dashboard_refund = example(
        "refund",
        id="re_dashboard",
        amount=400,
        status="succeeded",
        payment_intent=order.stripe_payment_intent_id,
        metadata={},
    )
    charge = example(
        "charge",
        id="ch_dash",
        payment_intent=order.stripe_payment_intent_id,
        amount=1000,
        amount_refunded=400,
        refunded=False,
        refunds={"object": "list", "data": [dashboard_refund]},
    )
    event = wrap_event(charge, "charge.refunded")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            signed_post(client, event)
        WebhookEvent.objects.update(status="failed")  # replayed: must not double-record
        process_event(event_id=WebhookEvent.objects.get().pk)

    refund = Refund.objects.get()
    order.refresh_from_db()
    assert refund.stripe_refund_id == "re_dashboard" and refund.amount == 400
    assert order.status == OrderStatus.PARTIALLY_REFUNDED and order.refunded_amount == 400


@pytest.mark.django_db
def test_charge_refunded_without_embedded_refunds_asks_stripe(
    stripe_double, client, customer, django_capture_on_commit_callbacks
):
    order = _paid_stripe_order(stripe_double, customer, total=1000)
    stripe_double.put(
        "refund",
        example(
            "refund",
            id="re_listed",
            amount=1000,
            status="succeeded",
            charge="ch_listed",
            payment_intent=order.stripe_payment_intent_id,
        ),
    )
    charge = example("charge", id="ch_listed", payment_intent=order.stripe_payment_intent_id)
    charge.pop("refunds", None)
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, wrap_event(charge, "charge.refunded"))
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert stripe_double.calls("GET", "/v1/refunds")[0].params["charge"] == "ch_listed"


@pytest.mark.django_db
def test_refunding_a_credit_pack_claws_back_credits(customer, admin_user, credit_pack):

    order = _paid_manual_order(customer, total=1000, product=credit_pack, credits_granted=100)
    assert CreditBalance.objects.get(user=customer).balance == 100

    create_refund(order_id=order.pk, amount=500, reason=RefundReason.OTHER, actor=admin_user)
    assert CreditBalance.objects.get(user=customer).balance == 50
    create_refund(order_id=order.pk, amount=500, reason=RefundReason.OTHER, actor=admin_user)
    assert CreditBalance.objects.get(user=customer).balance == 0
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED


@pytest.mark.django_db
def test_stripe_refund_waits_while_stripe_is_not_configured(
    stripe_double, settings, customer, admin_user, django_capture_on_commit_callbacks
):
    order = _paid_stripe_order(stripe_double, customer, total=1000)
    configured = settings.STRIPE
    settings.STRIPE = {**configured, "secret_key": ""}
    with django_capture_on_commit_callbacks(execute=True):
        refund = create_refund(
            order_id=order.pk, amount=100, reason=RefundReason.OTHER, actor=admin_user
        )
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING
    assert stripe_double.calls("POST", "/v1/refunds") == []

    settings.STRIPE = configured
    assert retry_pending_refunds() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
