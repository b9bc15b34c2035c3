"""Staff console pages and actions; the remaining Stripe event types; concurrency edges."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from billing.factories import (
    DiscountFactory,
    OrderFactory,
    OrderItemFactory,
    WebhookEventFactory,
)
from billing.models import (
    BillingSource,
    CustomerBillingProfile,
    DiscountUsage,
    Order,
    OrderItem,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from billing.services.customers import ensure_stripe_customer
from billing.services.payments import mark_order_paid
from billing.tests.conftest import signed_post
from billing.tests.stripe_objects import example, wrap_event
from catalog.models import ProductStatus
from core.models import AuditLog


@pytest.mark.django_db
def test_staff_console_pages_render(staff_console, customer):
    order = OrderFactory(user=customer)
    OrderItemFactory(order=order)
    discount = DiscountFactory()
    DiscountUsage.objects.create(
        discount=discount, user=customer, order=order, amount_saved=10, currency="usd"
    )
    WebhookEventFactory()
    pages = [
        "/admin/billing/order/",
        f"/admin/billing/order/{order.pk}/change/",
        "/admin/billing/order/?status__exact=PENDING&payment_status__exact=PENDING",
        f"/admin/billing/order/?q={customer.email}",
        f"/admin/billing/order/?q={order.number}",
        "/admin/billing/payment/",
        "/admin/billing/refund/",
        "/admin/billing/discount/",
        f"/admin/billing/discount/{discount.pk}/change/",
        "/admin/billing/webhookevent/",
        "/admin/billing/invoice/",
        "/admin/billing/subscription/",
    ]
    for url in pages:
        response = staff_console.get(url)
        assert response.status_code == 200, url
    search = staff_console.get(f"/admin/billing/order/?q={order.number}").content.decode()
    assert order.number in search
    assert (
        customer.email
        in staff_console.get(f"/admin/billing/discount/{discount.pk}/change/").content.decode()
    )


@pytest.mark.django_db
def test_customers_cannot_open_the_staff_console(customer_client):
    response = customer_client.get("/admin/billing/order/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_staff_cancel_action_cancels_pending_and_refuses_paid(staff_console, customer):
    pending = OrderFactory(user=customer)
    paid = OrderFactory(user=customer)
    mark_order_paid(
        order_id=paid.pk, provider="manual", provider_id="p", amount=paid.total, currency="usd"
    )

    response = staff_console.post(
        "/admin/billing/order/",
        {"action": "action_cancel", "_selected_action": [pending.pk, paid.pk], "confirm": "yes"},
        follow=True,
    )

    assert "Only a pending order can be cancelled." in response.content.decode()
    pending.refresh_from_db()
    paid.refresh_from_db()
    assert pending.status == OrderStatus.CANCELLED and pending.cancelled_at
    assert paid.status == OrderStatus.COMPLETED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model, action, question",
    [
        ("order", "action_cancel", "Cancel these orders?"),
        ("order", "action_mark_paid", "Mark these orders paid?"),
    ],
)
def test_order_actions_ask_for_confirmation_before_changing_anything(
    staff_console, customer, model, action, question
):
    pending = OrderFactory(user=customer)

    asked = staff_console.post(
        f"/admin/billing/{model}/", {"action": action, "_selected_action": [pending.pk]}
    )

    assert asked.status_code == 200
    page = asked.content.decode()
    assert question in page and str(pending) in page
    assert 'name="confirm" value="yes"' in page and "No, go back" in page
    pending.refresh_from_db()
    assert pending.status == OrderStatus.PENDING
    assert not AuditLog.objects.filter(resource_id=str(pending.pk)).exists()


def _stripe_order(customer):
    order = OrderFactory(
        user=customer,
        billing_source=BillingSource.STRIPE,
        stripe_payment_intent_id=f"pi_events_{customer.pk}",
        stripe_checkout_session_id=f"cs_events_{customer.pk}",
    )
    OrderItemFactory(order=order)
    return order


def _deliver(client, event, capture):
    with capture(execute=True):
        assert signed_post(client, event).status_code == 200


@pytest.mark.django_db
def test_payment_intent_succeeded_completes_the_order(
    client, webhook_secret, customer, django_capture_on_commit_callbacks
):
    order = _stripe_order(customer)
    intent = example(
        "payment_intent",
        id=order.stripe_payment_intent_id,
        status="succeeded",
        amount=order.total,
        amount_received=order.total,
        currency="usd",
        metadata={"order_id": str(order.pk)},
    )
    _deliver(
        client, wrap_event(intent, "payment_intent.succeeded"), django_capture_on_commit_callbacks
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert Payment.objects.get(order=order).provider_id == order.stripe_payment_intent_id


@pytest.mark.django_db
def test_async_payment_goes_processing_then_succeeds(
    client, webhook_secret, customer, django_capture_on_commit_callbacks
):
    order = _stripe_order(customer)
    session = example(
        "checkout.session",
        id=order.stripe_checkout_session_id,
        mode="payment",
        payment_status="unpaid",
        status="complete",
        amount_total=order.total,
        currency="usd",
        payment_intent=order.stripe_payment_intent_id,
        metadata={"order_id": str(order.pk)},
    )
    _deliver(
        client,
        wrap_event(session, "checkout.session.completed"),
        django_capture_on_commit_callbacks,
    )
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (
        OrderStatus.PROCESSING,
        PaymentStatus.PROCESSING,
    )

    _deliver(
        client,
        wrap_event(
            {**session, "payment_status": "paid"}, "checkout.session.async_payment_succeeded"
        ),
        django_capture_on_commit_callbacks,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED


@pytest.mark.django_db
def test_async_payment_failure_cancels_the_order_and_releases_its_code(
    client, webhook_secret, customer, django_capture_on_commit_callbacks
):
    order = _stripe_order(customer)
    discount = DiscountFactory(uses_count=1, max_uses=1)
    DiscountUsage.objects.create(
        discount=discount, user=customer, order=order, amount_saved=0, currency="usd"
    )
    session = example(
        "checkout.session",
        id=order.stripe_checkout_session_id,
        mode="payment",
        payment_status="unpaid",
        metadata={"order_id": str(order.pk)},
    )
    _deliver(
        client,
        wrap_event(session, "checkout.session.async_payment_failed"),
        django_capture_on_commit_callbacks,
    )
    order.refresh_from_db()
    discount.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.payment_status == "FAILED"
    assert discount.uses_count == 0


@pytest.mark.django_db
def test_customer_updated_sets_the_default_payment_method(
    client, stripe_double, customer, django_capture_on_commit_callbacks
):
    CustomerBillingProfile.objects.create(user=customer, stripe_customer_id="cus_default")
    PaymentMethod.objects.create(user=customer, stripe_payment_method_id="pm_a", last4="1111")
    PaymentMethod.objects.create(
        user=customer, stripe_payment_method_id="pm_b", last4="2222", is_default=True
    )
    data = example("customer", id="cus_default", email=customer.email)
    data["invoice_settings"]["default_payment_method"] = "pm_a"
    _deliver(client, wrap_event(data, "customer.updated"), django_capture_on_commit_callbacks)
    defaults = dict(PaymentMethod.objects.values_list("stripe_payment_method_id", "is_default"))
    assert defaults == {"pm_a": True, "pm_b": False}


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_checkouts_create_one_stripe_customer(stripe_double, customer):
    barrier = threading.Barrier(4)
    ids = []

    def create():
        try:
            barrier.wait()
            ids.append(ensure_stripe_customer(user=customer))
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(ids)) == 1
    assert len(stripe_double.objects["customer"]) == 1
    keys = {call.idempotency_key for call in stripe_double.calls("POST", "/v1/customers")}
    assert keys == {f"customer-create-user-{customer.pk}"}
    assert CustomerBillingProfile.objects.get(user=customer).stripe_customer_id == ids[0]


@pytest.mark.django_db(transaction=True)
def test_concurrent_download_clicks_never_exceed_the_limit(customer, digital_product):
    order = OrderFactory(user=customer, subtotal=1000)
    item = OrderItemFactory(
        order=order,
        product=digital_product,
        unit_amount=1000,
        download_limit=digital_product.download_limit,
    )
    mark_order_paid(
        order_id=order.pk, provider="manual", provider_id="b", amount=1000, currency="usd"
    )
    url = f"/api/v1/orders/{order.number}/items/{item.pk}/download/"
    barrier = threading.Barrier(6)
    codes = []

    def click():
        try:
            api = APIClient()
            api.force_authenticate(user=customer)
            barrier.wait()
            codes.append(api.get(url).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [302, 302, 403, 403, 403, 403]
    assert OrderItem.objects.get(pk=item.pk).download_count == 2


@pytest.mark.django_db
def test_stripe_checkout_page_redirects_to_stripe(stripe_double, customer_client, product):
    customer_client.post("/cart/", {"action": "add", "product_id": product.pk, "quantity": 1})
    response = customer_client.post("/checkout/", {"payment_method": "stripe"})
    assert response.status_code == 302
    assert response["Location"].startswith("https://checkout.stripe.test/c/pay/")
    order = Order.objects.get()
    success = customer_client.get(
        f"/checkout/success/?session_id={order.stripe_checkout_session_id}"
    )
    assert order.number in success.content.decode()


@pytest.mark.django_db
def test_withdrawn_product_is_flagged_in_cart_and_blocks_checkout(customer_api, product):
    customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    product.status = ProductStatus.ARCHIVED
    product.save()

    cart = customer_api.get("/api/v1/cart/")
    assert cart.status_code == 200 and len(cart.json()["unavailable_items"]) == 1
    response = customer_api.post("/api/v1/checkout/", {"payment_method": "manual"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "product_unavailable"
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_expired_session_cancels_pending_order_but_never_a_paid_one(
    client, webhook_secret, customer, other_customer, django_capture_on_commit_callbacks
):
    pending = _stripe_order(customer)
    paid = _stripe_order(other_customer)
    mark_order_paid(
        order_id=paid.pk, provider="stripe", provider_id="pi_x", amount=paid.total, currency="usd"
    )
    for order in (pending, paid):
        session = example(
            "checkout.session",
            id=order.stripe_checkout_session_id,
            mode="payment",
            status="expired",
            payment_status="unpaid",
            metadata={"order_id": str(order.pk)},
        )
        _deliver(
            client,
            wrap_event(session, "checkout.session.expired"),
            django_capture_on_commit_callbacks,
        )
    pending.refresh_from_db()
    paid.refresh_from_db()
    assert pending.status == OrderStatus.CANCELLED
    assert paid.status == OrderStatus.COMPLETED


@pytest.mark.django_db
def test_staff_edits_are_audited(staff_console, admin_user, customer):

    order = OrderFactory(user=customer)
    response = staff_console.post(
        f"/admin/billing/order/{order.pk}/change/",
        {
            "internal_notes": "Called the customer",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
            "payments-TOTAL_FORMS": "0",
            "payments-INITIAL_FORMS": "0",
            "refunds-TOTAL_FORMS": "0",
            "refunds-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.internal_notes == "Called the customer"
    entry = AuditLog.objects.get(resource_id=str(order.pk), action="UPDATE")
    assert entry.actor == admin_user
    assert entry.new_values == {"internal_notes": "Called the customer"}

    response = staff_console.post(
        "/admin/billing/discount/add/",
        {
            "code": "STAFF10",
            "name": "Staff",
            "type": "PERCENTAGE",
            "percent_off": "10",
            "minimum_amount": "0",
            "active": "on",
            "usages-TOTAL_FORMS": "0",
            "usages-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert AuditLog.objects.filter(action="CREATE", resource_type="billing.Discount").exists()


@pytest.mark.django_db
def test_order_list_is_paginated(customer_api, customer):
    for _ in range(3):
        OrderFactory(user=customer)
    body = customer_api.get("/api/v1/orders/?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
