"""Stripe checkout end to end through the local Stripe double and signed webhooks."""

import pytest

from billing.models import (
    CustomerBillingProfile,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    WebhookEvent,
)
from billing.tests.conftest import signed_post
from billing.tests.stripe_objects import wrap_event
from credits.models import CreditBalance


def _add(api, product, quantity=1):
    response = api.post(
        "/api/v1/cart/", {"product_id": product.pk, "quantity": quantity}, format="json"
    )
    assert response.status_code == 201, response.json()


def _paid_session_event(double, order, **changes):
    session = dict(double.get("checkout.session", order.stripe_checkout_session_id))
    session.update(**changes)
    return wrap_event(session, "checkout.session.completed")


@pytest.mark.django_db
def test_stripe_checkout_creates_session_for_server_total_and_webhook_completes_once(
    stripe_double, customer_api, customer, product, client, django_capture_on_commit_callbacks
):
    _add(customer_api, product, quantity=2)

    response = customer_api.post(
        "/api/v1/checkout/", {"payment_method": "stripe", "total": 1, "subtotal": 1}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get(number=body["order"]["number"])
    assert body["redirect_url"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
    assert order.total == 3800 and order.status == OrderStatus.PENDING
    [create] = stripe_double.calls("POST", "/v1/checkout/sessions")
    assert create.params["mode"] == "payment"
    assert create.params["line_items"][0]["price_data"]["unit_amount"] == "3800"
    assert create.params["metadata"]["order_id"] == str(order.pk)
    assert create.idempotency_key == f"checkout-session-order-{order.pk}"
    assert (
        stripe_double.calls("POST", "/v1/customers")[0].idempotency_key
        == f"customer-create-user-{customer.pk}"
    )

    # Like Stripe since 2022-08-01, the session has no PaymentIntent until it is paid.
    assert order.stripe_payment_intent_id is None
    assert (
        stripe_double.get("checkout.session", order.stripe_checkout_session_id)["payment_intent"]
        is None
    )
    # The customer pays: Stripe now holds an intent and its charge.
    _, intent, charge = stripe_double.pay_session(order.stripe_checkout_session_id)
    event = _paid_session_event(stripe_double, order)
    for _ in range(2):  # Stripe may deliver twice
        with django_capture_on_commit_callbacks(execute=True):
            assert signed_post(client, event).status_code == 200

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.payment_status == PaymentStatus.SUCCEEDED
    assert order.stripe_payment_intent_id == intent["id"]
    payment = Payment.objects.get(order=order)
    assert (payment.amount, payment.provider_id) == (3800, intent["id"])
    assert (payment.stripe_payment_intent_id, payment.stripe_charge_id) == (
        intent["id"],
        charge["id"],
    )
    assert (payment.method_type, payment.method_brand, payment.method_last4) == (
        "card",
        "visa",
        "4242",
    )
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert customer_api.get("/api/v1/cart/").json()["items"] == []


@pytest.mark.django_db
def test_stripe_customer_is_created_once_across_checkouts(
    stripe_double, customer_api, customer, product
):
    for _ in range(2):
        _add(customer_api, product)
        assert customer_api.post("/api/v1/checkout/", {}, format="json").status_code == 201

    assert len(stripe_double.calls("POST", "/v1/customers")) == 1
    profile = CustomerBillingProfile.objects.get(user=customer)
    assert profile.stripe_customer_id.startswith("cus_test_")
    assert len(stripe_double.calls("POST", "/v1/checkout/sessions")) == 2


@pytest.mark.django_db
def test_stripe_failure_cancels_order_keeps_cart_and_answers_502(
    stripe_double, customer_api, product
):
    _add(customer_api, product)
    stripe_double.fail_next.append(
        (400, {"error": {"type": "invalid_request_error", "message": "Bad"}})
    )

    response = customer_api.post("/api/v1/checkout/", {"payment_method": "stripe"}, format="json")

    assert response.status_code == 502
    assert response.json()["code"] == "payment_provider_error"
    assert Order.objects.get().status == OrderStatus.CANCELLED
    assert len(customer_api.get("/api/v1/cart/").json()["items"]) == 1


@pytest.mark.django_db
def test_without_stripe_keys_stripe_checkout_is_refused_and_manual_is_default(
    no_stripe, customer_api, product, customer_client
):
    _add(customer_api, product)

    refused = customer_api.post("/api/v1/checkout/", {"payment_method": "stripe"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "stripe_unavailable"
    assert Order.objects.count() == 0

    page = customer_client.get("/checkout/")
    assert page.status_code == 200
    assert "Card (Stripe) — unavailable" in page.content.decode()

    manual = customer_api.post("/api/v1/checkout/", {}, format="json")
    assert manual.status_code == 201
    assert manual.json()["order"]["billing_source"] == "manual"
    assert manual.json()["invoice"]["total"] == 1900


@pytest.mark.django_db
def test_stripe_purchase_of_a_credit_pack_grants_credits_once_whatever_events_arrive(
    stripe_double, customer_api, customer, credit_pack, client, django_capture_on_commit_callbacks
):

    _add(customer_api, credit_pack, quantity=2)
    number = customer_api.post("/api/v1/checkout/", {}, format="json").json()["order"]["number"]
    order = Order.objects.get(number=number)
    _, intent, _ = stripe_double.pay_session(order.stripe_checkout_session_id)
    events = [
        wrap_event(intent, "payment_intent.succeeded"),
        _paid_session_event(stripe_double, order),
    ]
    for event in events + events:
        with django_capture_on_commit_callbacks(execute=True):
            assert signed_post(client, event).status_code == 200

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert Payment.objects.filter(order=order).count() == 1
    assert CreditBalance.objects.get(user=customer).balance == 200
    assert WebhookEvent.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("asynchronous", "words"),
    [(False, "was received by Stripe"), (True, "is being processed by your bank")],
)
def test_the_success_page_asks_stripe_once_and_says_paid_or_processing(
    asynchronous, words, stripe_double, customer_client, product, settings
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"success-{asynchronous}",
        }
    }
    customer_client.post("/cart/", {"action": "add", "product_id": product.pk, "quantity": 1})
    redirect = customer_client.post("/checkout/", {"payment_method": "stripe"})
    assert redirect.status_code == 302
    order = Order.objects.get()
    stripe_double.pay_session(order.stripe_checkout_session_id, asynchronous=asynchronous)

    # Back from Stripe before any webhook: the page reads the session's state itself.
    url = f"/checkout/success/?session_id={order.stripe_checkout_session_id}"
    for _ in range(2):
        page = customer_client.get(url).content.decode()
        assert words in page and order.number in page
    reads = stripe_double.calls("GET", f"/v1/checkout/sessions/{order.stripe_checkout_session_id}")
    assert len(reads) == 1  # cached
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING  # the books wait for the webhook
