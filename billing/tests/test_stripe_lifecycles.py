"""Whole Stripe lifecycles replayed through the webhook view and a real Celery worker.

Each test starts a Redis, a ``celery -A config worker`` pointed at the Stripe double (as a
staging host would be, through STRIPE_API_BASE from process start) and delivers correctly
signed events, then checks the books: subscription, invoices, payments (with their Stripe
PaymentIntent and charge), refunds, credit notes, credit balance, net revenue.

- a subscription: created in trial -> paid -> renewal paid -> payment failed -> recovered ->
  refund of the last invoice (Stripe's dashboard) -> dispute -> cancelled, checked after each;
- a one-time order: paid -> partially refunded in Stripe's dashboard -> that refund failed;
- the same sequences shuffled (every event delivered, any order, some twice): same books;
- the subscription at an older API version (payloads in the old shapes): same books;
- customer.updated with a default card, payment_method.attached, invoice.paid and
  charge.refunded: no secret in djstripe_apikey.
"""

import random
import time

import pytest
from django.db.models import Sum
from djstripe.models import APIKey

from billing.models import (
    Invoice,
    Order,
    Payment,
    Refund,
    WebhookEvent,
)
from billing.tests.conftest import SECRET_KEY, WEBHOOK_SECRET, signed_post
from billing.tests.lifecycle_helpers import (
    PRICE,
    books,
    expected_after_each_step,
    subscriber,
    subscription_life,
)
from billing.tests.stripe_objects import example, in_version, wrap_event
from billing.tests.subscription_helpers import (
    DAY,
    stripe_paid_invoice,
    stripe_refund,
    stripe_subscription,
)
from tests.test_failure_redis import celery_broker, redis_server, wait_for  # noqa: F401
from tests.test_failure_worker import Worker

OLD_VERSION = "2025-02-24.acacia"


@pytest.fixture
def worker(redis_server, stripe_double, tmp_path, transactional_db, settings):  # noqa: F811
    """A real worker reading Stripe through the double; the webhook view publishes to it."""
    settings.STRIPE = {**settings.STRIPE, "webhook_secret": WEBHOOK_SECRET}
    started = Worker(redis_server.url, tmp_path / "worker.log")
    started.env.update(
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_API_BASE=stripe_double.url,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    with celery_broker(redis_server.url):
        started.start()
        yield started
        started.kill_everything()


def _deliver(client, worker, events):
    """POST each event (signed) to the webhook URL, then wait until the worker has handled
    every one; a handler failure fails the test with its error."""
    for event in events:
        assert signed_post(client, event).status_code == 200
    ids = {event["id"] for event in events}

    def settled():
        rows = WebhookEvent.objects.filter(stripe_event_id__in=ids)
        failed = rows.filter(status=WebhookEvent.Status.FAILED).first()
        assert failed is None, (
            f"{failed.type}: {failed.last_error}\n" + worker.log_path.read_text()[-3000:]
        )
        return rows.filter(status=WebhookEvent.Status.PROCESSED).count() == len(ids)

    wait_for(settled, timeout=60, what="the worker to handle the events")


# --- a subscription's life -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_subscription_lifecycle_keeps_the_books_at_every_step(
    worker, client, customer, stripe_double
):
    local, price_id = subscriber(customer, stripe_double)
    expected = expected_after_each_step(customer)
    for step, events in subscription_life(stripe_double, local, price_id):
        # Stripe answers a read with the subscription as it is at this step. An invoice event
        # handled before the subscription's own reads the subscription back (the worker takes
        # the step's events in any order), and must not see its later, canceled state.
        for event in events:
            if event["data"]["object"]["object"] == "subscription":
                stripe_double.put("subscription", event["data"]["object"])
        _deliver(client, worker, events)
        assert books(customer) == expected[step], step
    payment = Payment.objects.get(provider_id="pi_in_L3")
    assert payment.refunds.get().credit_note.number.startswith("CN-")


@pytest.mark.django_db(transaction=True)
def test_a_shuffled_subscription_lifecycle_reaches_the_same_books(
    worker, client, customer, stripe_double
):
    local, price_id = subscriber(customer, stripe_double)
    events = [e for _, step in subscription_life(stripe_double, local, price_id) for e in step]
    rng = random.Random(20261205)  # noqa: S311 - a reproducible shuffle, not a secret
    shuffled = events + rng.sample(events, 5)  # every event, five of them twice
    rng.shuffle(shuffled)
    for start in range(0, len(shuffled), 4):
        _deliver(client, worker, shuffled[start : start + 4])

    assert books(customer) == expected_after_each_step(customer)["cancel"]


@pytest.mark.django_db(transaction=True)
def test_the_lifecycle_at_an_older_api_version_gives_the_same_books(
    worker, client, customer, stripe_double
):
    local, price_id = subscriber(customer, stripe_double)
    for _, events in subscription_life(stripe_double, local, price_id):
        old = [
            {
                **event,
                "api_version": OLD_VERSION,
                "data": {"object": in_version(event["data"]["object"], OLD_VERSION)},
            }
            for event in events
        ]
        _deliver(client, worker, old)

    assert books(customer) == expected_after_each_step(customer)["cancel"]
    assert WebhookEvent.objects.filter(api_version=OLD_VERSION).count() == 14


# --- a one-time order ------------------------------------------------------------------------


def _checkout(customer_api, product):
    assert (
        customer_api.post(
            "/api/v1/cart/", {"product_id": product.pk, "quantity": 2}, format="json"
        ).status_code
        == 201
    )
    response = customer_api.post("/api/v1/checkout/", {"payment_method": "stripe"}, format="json")
    assert response.status_code == 201, response.json()
    return Order.objects.get(number=response.json()["order"]["number"])


def order_life(double, order):
    """[(step, [events], [(kind, object) Stripe holds from that step on])]."""
    session, intent, charge = double.pay_session(order.stripe_checkout_session_id)
    clock = iter(range(int(time.time()) - 600, int(time.time()), 30))
    refund = {
        **example("refund"),
        "id": "re_O1",
        "amount": 1000,
        "currency": "usd",
        "charge": charge["id"],
        "payment_intent": intent["id"],
        "status": "succeeded",
        "metadata": {},
        "failure_reason": None,
    }
    refunded_charge = {**charge, "amount_refunded": 1000}
    failed = {**refund, "status": "failed", "failure_reason": "expired_or_canceled_card"}

    def event(obj, kind):
        return wrap_event(obj, kind, created=next(clock))

    return [
        (
            "paid",
            [
                event(intent, "payment_intent.succeeded"),
                event(session, "checkout.session.completed"),
            ],
            [],
        ),
        (
            "partially refunded",
            [event(refunded_charge, "charge.refunded"), event(refund, "refund.created")],
            [("refund", refund), ("charge", refunded_charge)],
        ),
        (
            "refund failed",
            [event(failed, "refund.failed")],
            [("refund", failed), ("charge", charge)],
        ),
    ]


def _order_books(status, payment_status, refunded, refunds, intent, charge):
    # A card-paid order gets a paid invoice (its receipt document); the order carries the
    # refunds.
    return {
        "subscriptions": [],
        "invoices": [(None, "PAID", 3800, 0)],
        "credit_notes": [],
        "credits": 0,
        "orders": [(status, payment_status, 3800, refunded)],
        "payments": [(intent, charge, 3800, "SUCCEEDED", "visa", "4242")],
        "refunds": refunds,
        "net_revenue": 3800 - sum(r[2] for r in refunds if r[3] == "SUCCEEDED"),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shuffled", [False, True], ids=["in order", "shuffled"])
def test_a_one_time_order_paid_refunded_in_the_dashboard_and_the_refund_failing(
    shuffled, worker, client, customer, customer_api, stripe_double, product
):
    order = _checkout(customer_api, product)
    steps = order_life(stripe_double, order)
    intent = stripe_double.get("checkout.session", order.stripe_checkout_session_id)[
        "payment_intent"
    ]
    charge = stripe_double.get("payment_intent", intent)["latest_charge"]
    expected = {
        "paid": _order_books("COMPLETED", "SUCCEEDED", 0, [], intent, charge),
        "partially refunded": _order_books(
            "PARTIALLY_REFUNDED",
            "SUCCEEDED",
            1000,
            [("re_O1", None, 1000, "SUCCEEDED", "OTHER")],
            intent,
            charge,
        ),
        "refund failed": _order_books(
            "COMPLETED", "SUCCEEDED", 0, [("re_O1", None, 1000, "FAILED", "OTHER")], intent, charge
        ),
    }
    if not shuffled:
        for step, events, holds in steps:
            for kind, obj in holds:
                stripe_double.put(kind, obj)
            _deliver(client, worker, events)
            assert books(customer) == expected[step], step
        return
    for _, _, holds in steps:  # a replay comes after everything happened
        for kind, obj in holds:
            stripe_double.put(kind, obj)
    events = [e for _, step, _ in steps for e in step]
    rng = random.Random(7)  # noqa: S311
    events = events + rng.sample(events, 2)
    rng.shuffle(events)
    _deliver(client, worker, events)
    assert books(customer) == expected["refund failed"]


# --- no secret at rest -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_card_events_through_the_worker_store_no_secret(worker, client, customer, stripe_double):
    local, price_id = subscriber(customer, stripe_double)
    now = int(time.time())
    sub = stripe_subscription(
        stripe_double,
        sub_id="sub_L",
        customer="cus_L",
        price_id=price_id,
        start=now - 60,
        end=now + 30 * DAY,
        metadata={"subscription_id": str(local.pk)},
    )
    card = stripe_double.put(
        "payment_method", example("payment_method", id="pm_L", customer="cus_L")
    )
    customer_obj = stripe_double.put(
        "customer",
        example(
            "customer",
            id="cus_L",
            email=customer.email,
            invoice_settings={
                "default_payment_method": "pm_L",
                "custom_fields": None,
                "footer": None,
                "rendering_options": None,
            },
        ),
    )
    invoice = stripe_paid_invoice(
        stripe_double,
        inv_id="in_S1",
        sub_id="sub_L",
        customer="cus_L",
        amount=PRICE,
        start=now - 60,
        end=now + 30 * DAY,
        billing_reason="subscription_create",
    )
    refund, charge = stripe_refund(stripe_double, refund_id="re_S1", inv_id="in_S1", amount=PRICE)

    _deliver(
        client,
        worker,
        [
            wrap_event(sub, "customer.subscription.created"),
            wrap_event(customer_obj, "customer.updated"),
            wrap_event(card, "payment_method.attached"),
        ],
    )
    _deliver(client, worker, [wrap_event(invoice, "invoice.paid")])
    _deliver(client, worker, [wrap_event(charge, "charge.refunded")])

    assert not APIKey.objects.filter(secret__startswith="sk_").exists()
    assert not APIKey.objects.filter(secret__startswith="rk_").exists()
    assert not stripe_double.calls("GET", "/v1/account")
    # The events did their work: the card, the payment and its refund are in the books.
    assert customer.payment_methods.get().is_default
    assert Invoice.objects.get(stripe_invoice_id="in_S1").status == "REFUNDED"
    assert Refund.objects.aggregate(total=Sum("amount"))["total"] == PRICE
