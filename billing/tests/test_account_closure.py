"""Deleting an account settles its billing first (billing.services.closure, called through
accounts.deletion): subscriptions cancelled at once, open invoices voided with an audited
reason, nothing renewed or reminded afterwards, the delete page saying so beforehand.

End to end: the customer's delete page (the form it renders, posted by the test client), the
subscriptions API, signed Stripe webhooks and the local Stripe double; clocks frozen.
"""

import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.db import connection

from accounts import services as account_services
from accounts.models import Status, User
from billing.models import (
    CustomerBillingProfile,
    Invoice,
    InvoiceStatus,
    Order,
    OrderStatus,
    Subscription,
    SubscriptionStatus,
)
from billing.services.subscriptions import renewal as renewal_service
from billing.tests.subscription_helpers import DAY, deliver, stripe_invoice, stripe_subscription
from catalog.factories import PlanFactory
from core.errors import AccountDeleted
from core.models import AuditLog

S = SubscriptionStatus
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DELETE_URL = "/account/delete/"
REASON = "account deleted"
# A card-shaped value that fails the Luhn check (the session's secret scan flags valid ones).
CARD_LOOKALIKE = "4000 0000 0000 0000"


@pytest.fixture
def manual_plan(db):

    plan = PlanFactory(
        slug="office", name="Office", billing_source="manual", credits_per_period=300
    )
    plan.product.tax_rate = "0.2000"
    plan.product.save(update_fields=["tax_rate"])
    return plan


@pytest.fixture
def stripe_plan(db):

    return PlanFactory(slug="pro", name="Pro", credits_per_period=1000)


def _subscribe(api, slug):
    response = api.post(
        "/api/v1/subscriptions/", {"plan": slug, "interval": "month"}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _manual_account(customer_api, product, capture):
    """A manual subscription with its first invoice open, and a bank-transfer order with its
    invoice open: what the customer owes when they ask to delete the account."""
    with capture(execute=True):
        body = _subscribe(customer_api, "office")
    sub = Subscription.objects.get(pk=body["subscription"]["id"])
    sub_invoice = Invoice.objects.get(number=body["invoice"]["number"])
    customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    checkout = customer_api.post(
        "/api/v1/checkout/",
        {
            "payment_method": "manual",
            "billing_address": {"line1": "1 High Street", "country": "GB", "card": CARD_LOOKALIKE},
        },
        format="json",
    )
    assert checkout.status_code == 201, checkout.json()
    order = Order.objects.get(number=checkout.json()["order"]["number"])
    return sub, sub_invoice, order


def _state(*rows):
    for row in rows:
        row.refresh_from_db()
    return [row.status for row in rows]


def _audit_count():
    return AuditLog.objects.count()


# --- manual billing ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_delete_page_lists_what_will_be_cancelled_and_voided_and_changes_nothing(
    no_stripe,
    customer_client,
    customer_api,
    customer,
    manual_plan,
    product,
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(START, tick=False):
        sub, sub_invoice, order = _manual_account(
            customer_api, product, django_capture_on_commit_callbacks
        )
        audit_before = _audit_count()

        response = customer_client.get(DELETE_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Your Office subscription (active) will be cancelled at once" in page
    # 10.00 + 20 % tax for the subscription; the 19.00 order has no tax.
    assert f"Invoice {sub_invoice.number} for $12.00, due 15 March 2026 will be voided" in page
    assert f"Invoice {order.invoice.number} for $19.00, due 15 March 2026 will be voided" in page
    assert _state(sub, sub_invoice, order) == [S.ACTIVE, InvoiceStatus.OPEN, OrderStatus.PENDING]
    assert _audit_count() == audit_before


@pytest.mark.django_db
def test_a_customer_without_billing_sees_no_billing_list(customer_client):
    response = customer_client.get(DELETE_URL)

    assert response.status_code == 200
    assert b"deletion-consequences" not in response.content


def _assert_voided_on_deletion(invoice):
    """``invoice`` is VOID with nothing due, its audit row the system's, with the reason."""
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.VOID, 0)
    row = AuditLog.objects.get(
        resource_type="billing.Invoice",
        resource_id=str(invoice.pk),
        context__operation="invoice_void",
    )
    assert row.actor_id is None  # the system, on the customer's deletion
    assert row.context["reason"] == REASON
    assert (row.old_values, row.new_values) == ({"status": "OPEN"}, {"status": "VOID"})


@pytest.mark.django_db
def test_deleting_cancels_the_manual_subscription_voids_open_invoices_and_stops_renewals(
    no_stripe,
    client,
    customer_api,
    customer,
    password,
    manual_plan,
    product,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    with time_machine.travel(START, tick=False):
        sub, sub_invoice, order = _manual_account(customer_api, product, capture)
        client.force_login(customer)
        mail.outbox.clear()

        with capture(execute=True):
            response = client.post(DELETE_URL, {"password": password, "confirm": "on"})

    assert response.status_code == 302
    user = User.all_objects.get(pk=customer.pk)
    assert user.status == Status.DELETED and user.email == f"deleted-{user.pk}@invalid"
    sub.refresh_from_db()
    assert (sub.status, sub.canceled_at, sub.ended_at) == (S.CANCELED, START, START)
    order_invoice = order.invoice
    for invoice in (sub_invoice, order_invoice):
        _assert_voided_on_deletion(invoice)
    cancel_row = AuditLog.objects.get(
        resource_type="billing.Subscription",
        resource_id=str(sub.pk),
        context__operation="subscription_cancel",
    )
    assert cancel_row.actor_id is None and cancel_row.context["reason"] == REASON
    order.refresh_from_db()
    assert (order.status, order.billing_address) == (OrderStatus.CANCELLED, None)
    events = list(sub.events.order_by("id").values_list("type", "source"))
    assert ("CANCELED", "system") in events and ("INVOICE_VOIDED", "system") in events
    assert mail.outbox == []

    # The next period end, the reminder day and the due date pass: nothing is renewed,
    # reminded or chased, and no mail goes to the deleted address.
    for moment in (
        datetime(2026, 3, 13, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 16, 9, 0, tzinfo=UTC),
        datetime(2026, 4, 1, 13, 0, tzinfo=UTC),
    ):
        with time_machine.travel(moment, tick=False), capture(execute=True):
            counts = renewal_service.renew_manual_subscriptions()
        assert counts == {"renewed": 0, "ended": 0, "reminded": 0, "past_due": 0, "unpaid": 0}
    assert Invoice.objects.filter(user=user).count() == 2
    assert not Invoice.objects.filter(user=user).exclude(status=InvoiceStatus.VOID).exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_deleting_erases_the_order_billing_address(
    no_stripe, client, customer_api, customer, password, product
):
    customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    number = customer_api.post(
        "/api/v1/checkout/",
        {
            "payment_method": "manual",
            "billing_address": {"line1": "1 High Street", "city": "London", "country": "GB"},
        },
        format="json",
    ).json()["order"]["number"]
    client.force_login(customer)

    response = client.post(DELETE_URL, {"password": password, "confirm": "on"})

    assert response.status_code == 302
    order = Order.objects.get(number=number)
    assert order.billing_address is None and order.shipping_address == {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT billing_address FROM billing_order WHERE id = %s", [order.pk])
        assert cursor.fetchone()[0] is None
    row = AuditLog.objects.get(
        resource_type="billing.Order",
        context__reason=REASON,
        new_values__billing_address="[erased]",
    )
    assert row.actor_id is None and row.context["orders"] == 1


@pytest.mark.django_db
def test_bad_and_repeated_submissions_change_nothing(
    no_stripe,
    client,
    customer_api,
    customer,
    password,
    manual_plan,
    product,
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(START, tick=False):
        sub, sub_invoice, order = _manual_account(
            customer_api, product, django_capture_on_commit_callbacks
        )
        client.force_login(customer)
        audit_before = _audit_count()

        wrong = client.post(DELETE_URL, {"password": "not my password", "confirm": "on"})
        unconfirmed = client.post(DELETE_URL, {"password": password})
        api_wrong = customer_api.delete("/api/v1/me/", {"password": "nope"}, format="json")

        assert (wrong.status_code, unconfirmed.status_code, api_wrong.status_code) == (
            400,
            400,
            400,
        )
        assert b"will be cancelled at once" in wrong.content  # the list is still shown
        assert _state(sub, sub_invoice, order) == [
            S.ACTIVE,
            InvoiceStatus.OPEN,
            OrderStatus.PENDING,
        ]
        assert User.all_objects.get(pk=customer.pk).status == Status.ACTIVE
        assert _audit_count() == audit_before

        assert client.post(DELETE_URL, {"password": password, "confirm": "on"}).status_code == 302
        audit_after = _audit_count()

        # The same form again from the same browser (now signed out), and the service again.
        again = client.post(DELETE_URL, {"password": password, "confirm": "on"})
        assert again.status_code == 302 and "/accounts/login/" in again["Location"]
        with pytest.raises(AccountDeleted):
            account_services.delete_account(user=customer, actor=customer)
    assert _audit_count() == audit_after
    assert _state(sub, sub_invoice, order) == [
        S.CANCELED,
        InvoiceStatus.VOID,
        OrderStatus.CANCELLED,
    ]


@pytest.mark.django_db
def test_deleting_through_the_api_settles_billing_too(
    no_stripe,
    customer_api,
    customer,
    password,
    manual_plan,
    product,
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(START, tick=False):
        sub, sub_invoice, order = _manual_account(
            customer_api, product, django_capture_on_commit_callbacks
        )

        response = customer_api.delete("/api/v1/me/", {"password": password}, format="json")

    assert response.status_code == 204
    assert _state(sub, sub_invoice, order) == [
        S.CANCELED,
        InvoiceStatus.VOID,
        OrderStatus.CANCELLED,
    ]


# --- Stripe billing --------------------------------------------------------------------------


def _stripe_account(stripe_double, customer_api, customer, client, capture):
    """An active Stripe subscription (sub_A) with an open invoice (in_open) at Stripe."""
    body = _subscribe(customer_api, "pro")
    local = Subscription.objects.get(pk=body["subscription"]["id"])
    cus = CustomerBillingProfile.objects.get(user=customer).stripe_customer_id
    local.price.refresh_from_db()
    now = int(time.time())
    obj = stripe_subscription(
        stripe_double,
        sub_id="sub_A",
        customer=cus,
        price_id=local.price.stripe_price_id,
        start=now - DAY,
        end=now + 29 * DAY,
        metadata={"subscription_id": str(local.pk)},
    )
    deliver(client, capture, obj, "customer.subscription.created", created=now - 60)
    invoice = stripe_invoice(
        inv_id="in_open",
        sub_id="sub_A",
        customer=cus,
        amount=1000,
        start=now - DAY,
        end=now + 29 * DAY,
    )
    stripe_double.put("invoice", invoice)
    deliver(client, capture, invoice, "invoice.finalized", created=now - 30)
    local.refresh_from_db()
    assert local.status == S.ACTIVE
    mirrored = Invoice.objects.get(stripe_invoice_id="in_open")
    assert mirrored.status == InvoiceStatus.OPEN
    return local, mirrored


@pytest.mark.django_db
def test_deleting_cancels_the_stripe_subscription_at_stripe_and_voids_its_open_invoice(
    stripe_double,
    client,
    customer_api,
    customer,
    password,
    stripe_plan,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    local, invoice = _stripe_account(stripe_double, customer_api, customer, client, capture)
    client.force_login(customer)
    page = client.get(DELETE_URL).content.decode()
    assert "Your Pro subscription (active) will be cancelled at once" in page
    assert f"Invoice {invoice.number} for $10.00 will be voided" in page
    stripe_double.requests.clear()

    with capture(execute=True):
        response = client.post(DELETE_URL, {"password": password, "confirm": "on"})

    assert response.status_code == 302
    assert len(stripe_double.calls("DELETE", "/v1/subscriptions/sub_A")) == 1
    assert len(stripe_double.calls("POST", "/v1/invoices/in_open/void")) == 1
    local.refresh_from_db()
    assert local.status == S.CANCELED and local.canceled_at is not None
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.VOID, 0)
    row = AuditLog.objects.get(
        resource_type="billing.Invoice",
        resource_id=str(invoice.pk),
        context__operation="invoice_void",
    )
    assert row.actor_id is None and row.context["reason"] == REASON
    cancel_row = AuditLog.objects.get(
        resource_type="billing.Subscription",
        resource_id=str(local.pk),
        context__operation="subscription_cancel",
    )
    assert cancel_row.actor_id is None and cancel_row.context["reason"] == REASON
    assert User.all_objects.get(pk=customer.pk).status == Status.DELETED

    # Stripe's own events about it arrive afterwards: nothing moves back, nothing is mailed.
    mail.outbox.clear()
    deliver(
        client, capture, stripe_double.get("subscription", "sub_A"), "customer.subscription.deleted"
    )
    deliver(client, capture, stripe_double.get("invoice", "in_open"), "invoice.voided")
    local.refresh_from_db()
    invoice.refresh_from_db()
    assert (local.status, invoice.status) == (S.CANCELED, InvoiceStatus.VOID)
    assert local.events.filter(type="INVOICE_VOIDED").count() == 1
    assert mail.outbox == []


@pytest.mark.django_db
def test_when_stripe_cannot_cancel_nothing_is_deleted_and_the_customer_can_retry(
    stripe_double,
    client,
    customer_api,
    customer,
    password,
    stripe_plan,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    local, invoice = _stripe_account(stripe_double, customer_api, customer, client, capture)
    client.force_login(customer)
    audit_before = _audit_count()
    stripe_double.fail_next.append(
        (503, {"error": {"type": "api_error", "message": "Stripe is down"}})
    )

    response = client.post(DELETE_URL, {"password": password, "confirm": "on"})

    assert response.status_code == 502
    assert b"Your account was not deleted." in response.content
    assert b"will be cancelled at once" in response.content
    user = User.all_objects.get(pk=customer.pk)
    assert (user.status, user.email, user.deleted_at) == (Status.ACTIVE, customer.email, None)
    assert _state(local, invoice) == [S.ACTIVE, InvoiceStatus.OPEN]
    assert _audit_count() == audit_before
    assert not stripe_double.calls("POST", "/v1/invoices/in_open/void")

    with capture(execute=True):
        retried = client.post(DELETE_URL, {"password": password, "confirm": "on"})

    assert retried.status_code == 302
    assert _state(local, invoice) == [S.CANCELED, InvoiceStatus.VOID]
    assert User.all_objects.get(pk=customer.pk).status == Status.DELETED


@pytest.mark.django_db
def test_a_subscription_stripe_already_ended_does_not_block_the_deletion(
    stripe_double,
    client,
    customer_api,
    customer,
    password,
    stripe_plan,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    local, invoice = _stripe_account(stripe_double, customer_api, customer, client, capture)
    # Ended at Stripe, and its webhook has not arrived yet: Stripe refuses a second cancel.
    now = int(time.time())
    stripe_double.put(
        "subscription",
        {
            **stripe_double.get("subscription", "sub_A"),
            "status": "canceled",
            "canceled_at": now,
            "ended_at": now,
        },
    )
    stripe_double.fail_next.append(
        (
            400,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": "No such subscription: 'sub_A'",
                }
            },
        )
    )
    client.force_login(customer)

    with capture(execute=True):
        response = client.post(DELETE_URL, {"password": password, "confirm": "on"})

    assert response.status_code == 302
    assert _state(local, invoice) == [S.CANCELED, InvoiceStatus.VOID]
    assert User.all_objects.get(pk=customer.pk).status == Status.DELETED
