"""MRR, ARR, ARPU, MRR movements, subscription counts and churn on hand-checked data."""

from datetime import timedelta
from decimal import Decimal

import pytest

from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from analytics.tests.builders import DAY, at, cancel, plan, price, subscribe
from billing.models import Subscription
from billing.models import SubscriptionStatus as S

pytestmark = pytest.mark.django_db

BEFORE = DAY - timedelta(days=20)


def values(metric, day=DAY):
    return {m.dimension: m.value for m in DailyMetric.objects.filter(date=day, metric=metric)}


def test_mrr_normalises_intervals_and_rounds_once_per_currency():
    monthly, yearly = price(2900, "month"), price(29000, "year")
    subscribe(price_obj=monthly, created=at(BEFORE))
    subscribe(price_obj=yearly, created=at(BEFORE), status=S.PAST_DUE)  # past due still counts
    # EUR: 1000/week × 2 seats = 8666.67, 3000 every 3 months = 1000, daily 100 = 3041.67
    subscribe(price_obj=price(1000, "week", currency="eur"), quantity=2, created=at(BEFORE))
    subscribe(price_obj=price(3000, "month", currency="eur", count=3), created=at(BEFORE))
    subscribe(price_obj=price(100, "day", currency="eur"), created=at(BEFORE))
    # Not counted: a trial, an unpaid one, one that ended before the day, one created later.
    subscribe(
        price_obj=monthly,
        created=at(BEFORE),
        status=S.TRIALING,
        trial_end=at(DAY + timedelta(days=3)),
    )
    subscribe(price_obj=monthly, created=at(BEFORE), status=S.UNPAID)
    cancel(subscribe(price_obj=monthly, created=at(BEFORE)), at(DAY - timedelta(days=1)))
    subscribe(price_obj=monthly, created=at(DAY + timedelta(days=1)))

    rollup_day(DAY, ["mrr"])

    # 8666.666… + 1000 + 3041.666… = 12708.33: rounded once on the total, where rounding each
    # subscription first would give 12708.34.
    assert values("mrr") == {"usd": Decimal("5316.67"), "eur": Decimal("12708.33")}
    assert values("arr") == {"usd": Decimal("63800.00"), "eur": Decimal("152500.00")}
    assert values("paying_customers") == {"usd": 2, "eur": 3}
    # 5316.666… ÷ 2 = 2658.33; 12708.333… ÷ 3 = 4236.11
    assert values("arpu") == {"usd": Decimal("2658.33"), "eur": Decimal("4236.11")}
    row = DailyMetric.objects.get(date=DAY, metric="mrr", dimension="usd")
    assert row.metadata == {"subscriptions": 2, "paying_customers": 2}
    assert row.definition_version == 3


def test_mrr_uses_the_plan_monthly_price_when_the_subscription_has_none():
    plan_obj = plan()  # factory plan: 1000/month, 10000/year
    subscribe(plan_obj=plan_obj, price_obj=None, quantity=3, created=at(BEFORE))
    rollup_day(DAY, ["mrr"])
    assert values("mrr") == {"usd": Decimal("3000.00")}


def test_a_trial_that_ended_during_the_day_is_paying_at_its_end():
    sub = subscribe(
        price_obj=price(2900),
        created=at(BEFORE),
        status=S.ACTIVE,
        trial_start=at(BEFORE),
        trial_end=at(DAY, 9),
    )
    rollup_day(DAY - timedelta(days=1), ["mrr", "subscriptions"])
    rollup_day(DAY, ["mrr", "subscriptions"])
    assert values("mrr", DAY - timedelta(days=1)) == {}
    assert values("trialing_subscriptions", DAY - timedelta(days=1)) == {"": 1}
    assert values("mrr") == {"usd": Decimal("2900.00")}
    assert values("new_subscriptions") == {"": 1}
    assert values("trialing_subscriptions") == {"": 0}
    assert sub.pk


def _movement_book():
    """Six customers, one of each kind of movement on DAY (amounts per month, usd)."""
    m = {amount: price(amount) for amount in (500, 1000, 1500, 2000, 2900, 3000)}
    subscribe(price_obj=m[2900], created=at(DAY, 10))  # new: +2900
    expanding = subscribe(price_obj=m[1000], created=at(BEFORE)).user
    subscribe(expanding, price_obj=m[2000], created=at(DAY, 12))  # expansion: +2000
    contracting = subscribe(price_obj=m[1000], created=at(BEFORE)).user
    cancel(subscribe(contracting, price_obj=m[500], created=at(BEFORE)), at(DAY, 9))  # -500
    cancel(subscribe(price_obj=m[3000], created=at(BEFORE)), at(DAY, 15))  # churned: -3000
    returning = cancel(
        subscribe(price_obj=m[1000], created=at(BEFORE - timedelta(days=30))),
        at(DAY - timedelta(days=10)),
    ).user
    subscribe(returning, price_obj=m[1500], created=at(DAY, 8))  # reactivation: +1500
    subscribe(
        price_obj=m[2900],
        created=at(DAY, 11),
        status=S.TRIALING,
        trial_end=at(DAY + timedelta(days=14)),
    )  # a trial: no movement


def test_mrr_movements_classify_each_customer_and_add_up_to_the_change_in_mrr():
    _movement_book()
    rollup_day(DAY - timedelta(days=1), ["mrr"])
    rollup_day(DAY, ["mrr", "mrr_movements"])

    got = {
        m.metric: m.value
        for m in DailyMetric.objects.filter(date=DAY, dimension="usd", metric__startswith="mrr_")
    }
    assert got == {
        "mrr_new": Decimal("2900.00"),
        "mrr_expansion": Decimal("2000.00"),
        "mrr_contraction": Decimal("500.00"),
        "mrr_churned": Decimal("3000.00"),
        "mrr_reactivation": Decimal("1500.00"),
    }
    assert DailyMetric.objects.get(date=DAY, metric="mrr_new").metadata == {"customers": 1}
    before = values("mrr", DAY - timedelta(days=1))["usd"]
    after = values("mrr")["usd"]
    assert (before, after) == (Decimal("5500.00"), Decimal("8400.00"))
    net = (
        got["mrr_new"]
        + got["mrr_expansion"]
        + got["mrr_reactivation"]
        - got["mrr_contraction"]
        - got["mrr_churned"]
    )
    assert net == after - before


def test_subscription_counts_and_subscriber_churn_rate():
    _movement_book()
    rollup_day(DAY, ["subscriptions"])
    assert values("active_subscriptions") == {"": 5}
    assert values("trialing_subscriptions") == {"": 1}
    assert values("active_subscriptions_at_start") == {"": 4}
    assert values("new_subscriptions") == {"": 3}
    assert values("churned_subscriptions") == {"": 2}
    rate = DailyMetric.objects.get(date=DAY, metric="subscriber_churn_rate")
    assert rate.value == Decimal("0.285714")  # 2 ÷ (4 + 3)
    assert rate.metadata == {"churned": 2, "active_at_start": 4, "new": 3}


def test_cancel_at_period_end_counts_until_the_period_ends():
    sub = subscribe(price_obj=price(2900), created=at(BEFORE))

    Subscription.objects.filter(pk=sub.pk).update(
        status=S.CANCELED,
        cancel_at_period_end=True,
        canceled_at=at(DAY - timedelta(days=5)),
        current_period_end=at(DAY, 18),
    )
    rollup_day(DAY - timedelta(days=1), ["mrr", "subscriptions"])
    rollup_day(DAY, ["mrr", "subscriptions"])
    assert values("mrr", DAY - timedelta(days=1)) == {"usd": Decimal("2900.00")}
    assert values("mrr") == {}
    assert values("churned_subscriptions") == {"": 1}
    assert values("subscriber_churn_rate") == {"": Decimal("1.000000")}


def test_a_day_without_subscriptions_has_zero_counts_and_no_mrr_rows():
    rollup_day(DAY, ["mrr", "mrr_movements", "subscriptions"])
    assert values("mrr") == {}
    assert values("mrr_new") == {}
    assert values("active_subscriptions") == {"": 0}
    assert values("subscriber_churn_rate") == {"": Decimal("0")}


def test_billing_ended_at_is_when_a_canceled_subscription_ends():
    """Stripe records the cancel request (canceled_at) and the real end (ended_at) apart."""
    sub = subscribe(price_obj=price(2900), created=at(BEFORE))

    Subscription.objects.filter(pk=sub.pk).update(
        status=S.CANCELED, canceled_at=at(DAY - timedelta(days=5)), ended_at=at(DAY, 18)
    )
    rollup_day(DAY - timedelta(days=1), ["mrr", "subscriptions"])
    rollup_day(DAY, ["mrr", "mrr_movements", "subscriptions"])
    assert values("mrr", DAY - timedelta(days=1)) == {"usd": Decimal("2900.00")}
    assert values("mrr") == {}
    assert values("mrr_churned") == {"usd": Decimal("2900.00")}
    assert values("churned_subscriptions") == {"": 1}
