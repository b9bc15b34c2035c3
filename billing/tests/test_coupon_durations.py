"""A subscription discount lasts as long as its coupon says: the first invoice (once), the
invoices of N months (repeating) or every invoice (forever), on manual renewals and as the
Stripe coupon's duration."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from accounts.factories import UserFactory
from billing.models import Discount, Invoice
from billing.services.invoices import create_period_invoice
from billing.services.subscriptions.renewal import renew_manual_subscriptions
from billing.services.subscriptions.state import add_interval
from catalog.factories import PlanFactory
from coupons.models import CouponDuration
from tests.staff_authority_table import manual_subscription

pytestmark = pytest.mark.django_db


def _discount(code, duration=None, months=None):
    discount = Discount.objects.create(code=code, type="PERCENTAGE", percent_off=50)
    if duration:
        CouponDuration.objects.create(
            discount=discount, duration=duration, duration_in_months=months
        )
    return discount


def _four_monthly_invoices(discount):
    """A manual 79.00/month subscription with ``discount``: its first invoice, then three
    renewals by the nightly pass; the discount taken off each, in order."""
    subscription = manual_subscription(UserFactory(), price=7900)
    subscription.discount = discount
    subscription.current_period_end = add_interval(subscription.current_period_start, "month")
    subscription.save(update_fields=["discount", "current_period_end"])
    create_period_invoice(
        subscription,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
        billing_reason="subscription_create",
    )
    for _ in range(3):
        # The customer pays each invoice (by bank transfer), so the next renewal comes.
        Invoice.objects.filter(subscription=subscription).update(status="PAID")
        subscription.refresh_from_db()
        with time_machine.travel(subscription.current_period_end + timedelta(minutes=1)):
            renew_manual_subscriptions()
    invoices = Invoice.objects.filter(subscription=subscription).order_by("period_start")
    return [(invoice.discount_amount, invoice.total) for invoice in invoices], invoices


def test_once_is_the_first_invoice_only():
    amounts, _ = _four_monthly_invoices(_discount("ONCE50"))
    assert amounts == [(3950, 3950), (0, 7900), (0, 7900), (0, 7900)]


def test_repeating_lasts_its_months_and_each_invoice_says_so():
    amounts, invoices = _four_monthly_invoices(_discount("TWO50", "repeating", 2))
    assert amounts == [(3950, 3950), (3950, 3950), (0, 7900), (0, 7900)]
    lines = [line["description"] for line in invoices[1].lines]
    assert "Discount TWO50 (2 months)" in lines
    assert not any("Discount" in line["description"] for line in invoices[2].lines)


def test_forever_comes_off_every_invoice():
    amounts, invoices = _four_monthly_invoices(_discount("ALWAYS50", "forever"))
    assert amounts == [(3950, 3950)] * 4
    assert "Discount ALWAYS50 (every invoice)" in [
        line["description"] for line in invoices[3].lines
    ]


def test_a_yearly_price_with_a_three_month_coupon_gets_it_on_the_first_year_only():
    subscription = manual_subscription(UserFactory(), price=7900)
    subscription.discount = _discount("Q50", "repeating", 3)
    subscription.save(update_fields=["discount"])
    start = subscription.current_period_start
    first = create_period_invoice(
        subscription,
        period_start=start,
        period_end=add_interval(start, "year"),
        billing_reason="subscription_create",
    )
    second = create_period_invoice(
        subscription,
        period_start=add_interval(start, "year"),
        period_end=add_interval(start, "year", 2),
        billing_reason="subscription_cycle",
    )
    assert (first.discount_amount, second.discount_amount) == (3950, 0)


def test_a_month_count_outside_1_to_120_or_on_another_duration_is_refused():

    discount = _discount("BAD")
    for duration, months in (
        ("repeating", None),
        ("repeating", 0),
        ("repeating", 121),
        ("forever", 3),
        ("once", 1),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            CouponDuration.objects.create(
                discount=discount, duration=duration, duration_in_months=months
            )


@pytest.mark.parametrize(
    "duration, months, expected",
    [
        (None, None, {"duration": "once"}),
        ("repeating", 3, {"duration": "repeating", "duration_in_months": "3"}),
        ("forever", None, {"duration": "forever"}),
    ],
)
def test_the_stripe_coupon_carries_the_same_duration(
    stripe_double, customer_api, duration, months, expected
):

    PlanFactory(slug="pro", name="Pro")
    _discount("HALF", duration, months)
    response = customer_api.post(
        "/api/v1/subscriptions/",
        {"plan": "pro", "interval": "month", "discount_code": "half"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    [coupon] = stripe_double.calls("POST", "/v1/coupons")
    assert {key: coupon.params.get(key) for key in expected} == expected
    if "duration_in_months" not in expected:
        assert "duration_in_months" not in coupon.params
