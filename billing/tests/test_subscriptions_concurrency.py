"""Money paths under real concurrency (real PostgreSQL, real threads)."""

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from billing.models import Invoice, Payment, Subscription, SubscriptionStatus, WebhookEvent
from billing.services import invoices
from billing.services.subscriptions import lifecycle as subscriptions
from billing.tests.conftest import signed_post
from billing.tests.stripe_objects import wrap_event
from billing.tests.subscription_helpers import DAY, stripe_invoice
from catalog.factories import PlanFactory
from credits.models import CreditGrant


def _run_together(fn, n):
    barrier = threading.Barrier(n)
    results = []

    def work(i):
        try:
            barrier.wait()
            results.append(fn(i))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_one_paid_invoice_delivered_as_four_concurrent_events_grants_credits_once(
    webhook_secret, customer
):

    plan = PlanFactory(slug="pro", credits_per_period=1000)
    sub = Subscription.objects.create(
        user=customer,
        plan=plan,
        price=plan.monthly_price,
        status=SubscriptionStatus.ACTIVE,
        billing_source="stripe",
        stripe_subscription_id="sub_C",
    )
    now = int(time.time())
    paid = stripe_invoice(
        inv_id="in_C",
        sub_id="sub_C",
        customer="cus_C",
        amount=1000,
        status="paid",
        start=now,
        end=now + 30 * DAY,
        paid_at=now,
    )
    events = [
        wrap_event(paid, kind, created=now)
        for kind in ("invoice.paid", "invoice.payment_succeeded", "invoice.paid", "invoice.updated")
    ]

    statuses = _run_together(lambda i: signed_post(Client(), events[i]).status_code, 4)

    assert statuses == [200] * 4
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    invoice = Invoice.objects.get(stripe_invoice_id="in_C")
    assert invoice.subscription == sub and invoice.status == "PAID"
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert [g.amount for g in CreditGrant.objects.filter(user=customer, source="PLAN")] == [1000]


@pytest.mark.django_db(transaction=True)
def test_concurrent_subscribes_start_exactly_one_subscription(no_stripe, customer):

    PlanFactory(slug="office", billing_source="manual")

    def subscribe(_):
        api = APIClient()
        api.force_authenticate(customer)
        response = api.post(
            "/api/v1/subscriptions/", {"plan": "office", "interval": "month"}, format="json"
        )
        return response.status_code, response.json().get("code")

    results = _run_together(subscribe, 5)

    assert sorted(status for status, _ in results) == [201, 409, 409, 409, 409]
    assert {code for status, code in results if status == 409} == {"subscription_exists"}
    assert Subscription.objects.filter(user=customer).count() == 1
    assert Invoice.objects.filter(user=customer).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_mark_paid_records_one_payment_and_one_grant(no_stripe, customer, admin_user):

    PlanFactory(slug="office", billing_source="manual", credits_per_period=300)
    sub = subscriptions.subscribe(user=customer, plan="office", interval="month").subscription
    invoice = sub.invoices.get()

    results = _run_together(
        lambda i: (
            invoices.mark_invoice_paid(
                invoice_id=invoice.pk, actor=admin_user, reference=f"BANK-{i}"
            ).status
        ),
        4,
    )

    assert results == ["PAID"] * 4
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert [g.amount for g in CreditGrant.objects.filter(user=customer, source="PLAN")] == [300]
