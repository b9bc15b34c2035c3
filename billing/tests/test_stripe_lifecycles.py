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
from django.db.models import Q, Sum
from django.utils import timezone
from djstripe.models import APIKey

from analytics.metrics.revenue import compute_revenue
from billing.models import (
    CreditNote,
    CustomerBillingProfile,
    Invoice,
    Order,
    Payment,
    Refund,
    Subscription,
    WebhookEvent,
)
from billing.stripe.sync import ensure_stripe_price
from billing.tests.conftest import SECRET_KEY, WEBHOOK_SECRET, signed_post
from billing.tests.stripe_objects import example, in_version, wrap_event
from billing.tests.subscription_helpers import (
    DAY,
    stripe_invoice,
    stripe_paid_invoice,
    stripe_refund,
    stripe_subscription,
)
from catalog.factories import PlanFactory
from credits.selectors import balance_of
from tests.test_failure_redis import celery_broker, redis_server, wait_for  # noqa: F401
from tests.test_failure_worker import Worker

OLD_VERSION = "2025-02-24.acacia"
PRICE = 2900


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


def _subscriber(customer, stripe_double):

    plan = PlanFactory(
        slug="pro", entitlements=["api_access"], credits_per_period=1000, trial_credits=0
    )
    plan.monthly_price.unit_amount = PRICE
    plan.monthly_price.save(update_fields=["unit_amount"])
    CustomerBillingProfile.objects.create(user=customer, stripe_customer_id="cus_L")
    stripe_double.put("customer", example("customer", id="cus_L", email=customer.email))
    price_id = ensure_stripe_price(plan.monthly_price)
    local = Subscription.objects.create(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        status="INCOMPLETE",
        billing_source="stripe",
    )
    return local, price_id


def subscription_life(double, local, price_id):
    """[(step, [events])] of one subscription's life; the double ends holding every object
    in its final state (as Stripe does when events are replayed later)."""
    now = int(time.time())
    t0, t1 = now - 5 * 3600, now - 4 * 3600  # the trial
    p1, p2, p3 = now + 30 * DAY, now + 60 * DAY, now + 90 * DAY
    clock = iter(range(now - 3000, now, 60))

    def sub(status, start, end, **changes):
        return stripe_subscription(
            double,
            sub_id="sub_L",
            customer="cus_L",
            price_id=price_id,
            status=status,
            start=start,
            end=end,
            trial_end=t1,
            metadata={"subscription_id": str(local.pk)},
            **changes,
        )

    def event(obj, kind):
        return wrap_event(obj, kind, created=next(clock))

    def paid(inv_id, amount, start, end, reason="subscription_cycle"):
        return stripe_paid_invoice(
            double,
            inv_id=inv_id,
            sub_id="sub_L",
            customer="cus_L",
            amount=amount,
            start=start,
            end=end,
            billing_reason=reason,
        )

    trial = sub("trialing", t0, t1)
    in0 = paid("in_L0", 0, t0, t1, reason="subscription_create")
    active = sub("active", t1, p1)
    in1 = paid("in_L1", PRICE, t1, p1)
    renewed = sub("active", p1, p2)
    in2 = paid("in_L2", PRICE, p1, p2)
    failing = stripe_invoice(
        inv_id="in_L3",
        sub_id="sub_L",
        customer="cus_L",
        amount=PRICE,
        status="open",
        start=p2,
        end=p3,
    )
    past_due = sub("past_due", p2, p3)
    in3 = paid("in_L3", PRICE, p2, p3)
    recovered = sub("active", p2, p3)
    refund, charge = stripe_refund(double, refund_id="re_L3", inv_id="in_L3", amount=PRICE)
    dispute = double.put(
        "dispute",
        {
            **example("dispute"),
            "id": "dp_L2",
            "amount": PRICE,
            "charge": "ch_in_L2",
            "payment_intent": "pi_in_L2",
            "currency": "usd",
            "reason": "fraudulent",
            "status": "needs_response",
        },
    )
    canceled = double.put(
        "subscription", {**sub("canceled", p2, p3), "canceled_at": now, "ended_at": now}
    )
    return [
        ("trial", [event(trial, "customer.subscription.created"), event(in0, "invoice.paid")]),
        ("paid", [event(active, "customer.subscription.updated"), event(in1, "invoice.paid")]),
        (
            "renewal paid",
            [event(in2, "invoice.paid"), event(renewed, "customer.subscription.updated")],
        ),
        (
            "payment failed",
            [
                event(failing, "invoice.payment_failed"),
                event(past_due, "customer.subscription.updated"),
            ],
        ),
        (
            "recovered",
            [event(in3, "invoice.paid"), event(recovered, "customer.subscription.updated")],
        ),
        (
            "refund of the last invoice",
            [event(charge, "charge.refunded"), event(refund, "refund.created")],
        ),
        ("dispute", [event(dispute, "charge.dispute.created")]),
        ("cancel", [event(canceled, "customer.subscription.deleted")]),
    ]


def books(user) -> dict:
    """What the business records say, in plain values (comparable between runs)."""
    today = timezone.now().date()
    revenue = {row.metric: int(row.value) for row in compute_revenue(today)}
    return {
        "subscriptions": sorted(
            Subscription.objects.filter(user=user).values_list("stripe_subscription_id", "status")
        ),
        "invoices": sorted(
            Invoice.objects.filter(user=user).values_list(
                "stripe_invoice_id", "status", "amount_paid", "refunded_amount"
            )
        ),
        "payments": sorted(
            Payment.objects.filter(user=user).values_list(
                "provider_id",
                "stripe_charge_id",
                "amount",
                "status",
                "method_brand",
                "method_last4",
            )
        ),
        "refunds": sorted(
            Refund.objects.filter(user_filter(user)).values_list(
                "stripe_refund_id", "stripe_dispute_id", "amount", "status", "reason"
            ),
            key=str,
        ),
        "credit_notes": sorted(
            CreditNote.objects.filter(user=user).values_list(
                "invoice__stripe_invoice_id", "amount", "credits_clawed_back"
            )
        ),
        "orders": sorted(
            Order.objects.filter(user=user).values_list(
                "status", "payment_status", "total", "refunded_amount"
            )
        ),
        "credits": balance_of(user=user),
        "net_revenue": revenue.get("net_revenue", 0),
    }


def user_filter(user):

    return Q(order__user=user) | Q(invoice__user=user)


def _subscription_books(customer, *, status, invoices, credits, refunds=(), notes=()):
    paid = [i for i in invoices if i[2]]
    return {
        "subscriptions": [("sub_L", status)],
        "invoices": sorted(invoices),
        "payments": sorted(
            (f"pi_{i[0]}", f"ch_{i[0]}", i[2], "SUCCEEDED", "visa", "4242") for i in paid
        ),
        "refunds": sorted(refunds, key=str),
        "credit_notes": sorted(notes),
        "orders": [],
        "credits": credits,
        "net_revenue": sum(i[2] for i in paid) - sum(r[2] for r in refunds),
    }


def _expected_after_each_step(customer):
    trial = [("in_L0", "PAID", 0, 0)]
    one = [*trial, ("in_L1", "PAID", PRICE, 0)]
    two = [*one, ("in_L2", "PAID", PRICE, 0)]
    refund = ("re_L3", None, PRICE, "SUCCEEDED", "OTHER")
    dispute = (None, "dp_L2", PRICE, "SUCCEEDED", "DISPUTED")
    refunded = [*one, ("in_L2", "PAID", PRICE, 0), ("in_L3", "REFUNDED", PRICE, PRICE)]
    disputed = [*one, ("in_L2", "REFUNDED", PRICE, PRICE), ("in_L3", "REFUNDED", PRICE, PRICE)]
    notes = [("in_L3", PRICE, 1000)]
    return {
        "trial": _subscription_books(customer, status="TRIALING", invoices=trial, credits=0),
        "paid": _subscription_books(customer, status="ACTIVE", invoices=one, credits=1000),
        "renewal paid": _subscription_books(customer, status="ACTIVE", invoices=two, credits=2000),
        "payment failed": _subscription_books(
            customer, status="PAST_DUE", invoices=[*two, ("in_L3", "OPEN", 0, 0)], credits=2000
        ),
        "recovered": _subscription_books(
            customer, status="ACTIVE", invoices=[*two, ("in_L3", "PAID", PRICE, 0)], credits=3000
        ),
        "refund of the last invoice": _subscription_books(
            customer,
            status="ACTIVE",
            invoices=refunded,
            credits=2000,
            refunds=[refund],
            notes=notes,
        ),
        "dispute": _subscription_books(
            customer,
            status="ACTIVE",
            invoices=disputed,
            credits=1000,
            refunds=[refund, dispute],
            notes=[*notes, ("in_L2", PRICE, 1000)],
        ),
        "cancel": _subscription_books(
            customer,
            status="CANCELED",
            invoices=disputed,
            credits=1000,
            refunds=[refund, dispute],
            notes=[*notes, ("in_L2", PRICE, 1000)],
        ),
    }


@pytest.mark.django_db(transaction=True)
def test_a_subscription_lifecycle_keeps_the_books_at_every_step(
    worker, client, customer, stripe_double
):
    local, price_id = _subscriber(customer, stripe_double)
    expected = _expected_after_each_step(customer)
    for step, events in subscription_life(stripe_double, local, price_id):
        _deliver(client, worker, events)
        assert books(customer) == expected[step], step
    payment = Payment.objects.get(provider_id="pi_in_L3")
    assert payment.refunds.get().credit_note.number.startswith("CN-")


@pytest.mark.django_db(transaction=True)
def test_a_shuffled_subscription_lifecycle_reaches_the_same_books(
    worker, client, customer, stripe_double
):
    local, price_id = _subscriber(customer, stripe_double)
    events = [e for _, step in subscription_life(stripe_double, local, price_id) for e in step]
    rng = random.Random(20261205)  # noqa: S311 - a reproducible shuffle, not a secret
    shuffled = events + rng.sample(events, 5)  # every event, five of them twice
    rng.shuffle(shuffled)
    for start in range(0, len(shuffled), 4):
        _deliver(client, worker, shuffled[start : start + 4])

    assert books(customer) == _expected_after_each_step(customer)["cancel"]


@pytest.mark.django_db(transaction=True)
def test_the_lifecycle_at_an_older_api_version_gives_the_same_books(
    worker, client, customer, stripe_double
):
    local, price_id = _subscriber(customer, stripe_double)
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

    assert books(customer) == _expected_after_each_step(customer)["cancel"]
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
    local, price_id = _subscriber(customer, stripe_double)
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
