"""MRR and MRR movements read each subscription's price as of the day from billing's timeline.

Every subscription here is started, changed and canceled through billing's real services
(``billing.services.subscriptions``: ``lifecycle.subscribe`` / ``plan_change.change_plan`` /
``lifecycle.cancel``) on manually billed plans, at chosen moments (``time_machine``), so the
SubscriptionEvent rows are exactly those billing writes. All rollups run afterwards, "today":
a past day recomputed after a later plan change must still show the price of that day.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.factories import AdminFactory, UserFactory
from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from analytics.selectors import mrr_subscriptions
from analytics.tests.builders import DAY, at
from billing.factories import SubscriptionFactory
from billing.models import InvoiceStatus, Subscription, SubscriptionEvent
from billing.services import timeline
from billing.services.invoices import mark_invoice_paid
from billing.services.subscriptions import lifecycle, plan_change
from billing.services.subscriptions.stripe_adapter import apply_stripe_subscription
from billing.tests.stripe_objects import example
from catalog.factories import PlanFactory
from catalog.models import Plan

pytestmark = pytest.mark.django_db

BEFORE = DAY - timedelta(days=20)
MOVEMENTS = ("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churned", "mrr_reactivation")


@pytest.fixture
def plans():
    """Two manually billed plans: Basic $10/month or $100/year, Pro $30/month or $300/year."""

    def manual(monthly, yearly):
        return PlanFactory(
            monthly_price__unit_amount=monthly,
            yearly_price__unit_amount=yearly,
            billing_source=Plan.BillingSource.MANUAL,
        )

    return {"basic": manual(1000, 10000), "pro": manual(3000, 30000)}


def _pay_open_invoices(sub) -> None:
    # The customer pays each invoice by bank transfer as it comes: a plan change credits
    # only what was paid, and refuses while the period's invoice is unpaid.
    for invoice in sub.invoices.filter(status=InvoiceStatus.OPEN):
        mark_invoice_paid(
            invoice_id=invoice.pk, actor=AdminFactory(), reference=f"transfer {invoice.number}"
        )


def start(plan, when, *, user=None, interval="month") -> Subscription:
    with time_machine.travel(when, tick=False):
        result = lifecycle.subscribe(user=user or UserFactory(), plan=plan, interval=interval)
        _pay_open_invoices(result.subscription)
    return result.subscription


def change(sub, plan, when, *, interval="month") -> Subscription:
    with time_machine.travel(when, tick=False):
        sub.refresh_from_db()
        plan_change.change_plan(
            subscription=sub, plan=plan, interval=interval, preview=False, actor=sub.user
        )
        _pay_open_invoices(sub)
    sub.refresh_from_db()
    return sub


def cancel_now(sub, when) -> Subscription:
    with time_machine.travel(when, tick=False):
        sub.refresh_from_db()
        lifecycle.cancel(subscription=sub, at_period_end=False, actor=sub.user)
    sub.refresh_from_db()
    return sub


def roll(*days):
    for day in days:
        rollup_day(day, ["mrr", "mrr_movements"])


def mrr(day):
    return {m.dimension: m.value for m in DailyMetric.objects.filter(date=day, metric="mrr")}


def movements(day):
    """The day's usd movements, zero ones left out, as {metric: (amount, customers)}."""
    rows = DailyMetric.objects.filter(date=day, dimension="usd", metric__in=MOVEMENTS)
    return {m.metric: (m.value, m.metadata["customers"]) for m in rows if m.value}


def test_an_upgrade_made_in_place_is_expansion_on_its_day_and_past_days_keep_the_old_price(plans):
    sub = change(start(plans["basic"], at(BEFORE)), plans["pro"], at(DAY, 12))
    assert list(
        sub.events.filter(type=SubscriptionEvent.Type.PLAN_CHANGED).values_list(
            "payload", flat=True
        )
    ) == [
        {
            "plan": plans["basic"].pk,
            "price": plans["basic"].monthly_price_id,
            "quantity": 1,
            "net": 571,
        }
    ]
    # billing's proration: (3000 - 1000) × 8 of the period's 28 days left = 571.
    assert sub.price_id == plans["pro"].monthly_price_id  # billing keeps the current state only

    roll(DAY - timedelta(days=1), DAY, DAY + timedelta(days=1))

    assert mrr(DAY - timedelta(days=1)) == {"usd": Decimal("1000.00")}  # the old price
    assert mrr(DAY) == {"usd": Decimal("3000.00")}
    assert movements(DAY - timedelta(days=1)) == {}
    assert movements(DAY) == {"mrr_expansion": (Decimal("2000.00"), 1)}
    assert movements(DAY + timedelta(days=1)) == {}
    row = DailyMetric.objects.get(date=DAY, metric="mrr_expansion")
    assert row.definition_version == 3


def test_a_downgrade_is_contraction(plans):
    change(start(plans["pro"], at(BEFORE)), plans["basic"], at(DAY, 9))
    roll(DAY - timedelta(days=1), DAY)
    assert mrr(DAY - timedelta(days=1)) == {"usd": Decimal("3000.00")}
    assert mrr(DAY) == {"usd": Decimal("1000.00")}
    assert movements(DAY) == {"mrr_contraction": (Decimal("2000.00"), 1)}


def test_an_interval_change_is_normalised_to_a_month(plans):
    """$30 a month -> $300 a year = 2500 a month: 500 of contraction."""
    sub = change(start(plans["pro"], at(BEFORE)), plans["pro"], at(DAY, 16), interval="year")
    assert sub.price_id == plans["pro"].yearly_price_id
    roll(DAY - timedelta(days=1), DAY)
    assert mrr(DAY - timedelta(days=1)) == {"usd": Decimal("3000.00")}
    assert mrr(DAY) == {"usd": Decimal("2500.00")}
    assert movements(DAY) == {"mrr_contraction": (Decimal("500.00"), 1)}


def test_quantity_multiplies_the_price_of_each_moment(plans):
    """Billing has no service that changes a quantity and its timeline does not record one,
    so the quantity (3 seats) is set on the row with the model and holds for every day; the
    upgrade itself goes through change_plan. 3 × (3000 - 1000) = 6000 of expansion."""
    sub = start(plans["basic"], at(BEFORE))
    Subscription.objects.filter(pk=sub.pk).update(quantity=3)
    change(sub, plans["pro"], at(DAY, 12))
    roll(DAY - timedelta(days=1), DAY)
    assert mrr(DAY - timedelta(days=1)) == {"usd": Decimal("3000.00")}
    assert mrr(DAY) == {"usd": Decimal("9000.00")}
    assert movements(DAY) == {"mrr_expansion": (Decimal("6000.00"), 1)}


def test_several_changes_each_day_sees_the_price_it_had(plans):
    """Basic -> Pro on DAY-2, Pro monthly -> Pro yearly on DAY at 09:00, then Pro yearly ->
    Basic yearly at 15:00 the same day: DAY-1 sees Pro monthly (the second event's "before"),
    DAY ends on Basic yearly (10000 ÷ 12 = 833.33); only the day's net move is counted."""
    sub = change(start(plans["basic"], at(BEFORE)), plans["pro"], at(DAY - timedelta(days=2)))
    change(sub, plans["pro"], at(DAY, 9), interval="year")
    change(sub, plans["basic"], at(DAY, 15), interval="year")
    days = [DAY - timedelta(days=n) for n in (3, 2, 1, 0)]
    roll(*days)
    assert [mrr(day) for day in days] == [
        {"usd": Decimal("1000.00")},
        {"usd": Decimal("3000.00")},
        {"usd": Decimal("3000.00")},
        {"usd": Decimal("833.33")},
    ]
    assert movements(DAY - timedelta(days=2)) == {"mrr_expansion": (Decimal("2000.00"), 1)}
    assert movements(DAY) == {"mrr_contraction": (Decimal("2166.67"), 1)}


def test_a_cancel_is_churn_at_the_price_of_the_day(plans):
    sub = change(start(plans["basic"], at(BEFORE)), plans["pro"], at(DAY - timedelta(days=5)))
    cancel_now(sub, at(DAY, 15))
    roll(DAY - timedelta(days=6), DAY - timedelta(days=1), DAY)
    assert mrr(DAY - timedelta(days=6)) == {"usd": Decimal("1000.00")}
    assert mrr(DAY - timedelta(days=1)) == {"usd": Decimal("3000.00")}
    assert mrr(DAY) == {}
    assert movements(DAY) == {"mrr_churned": (Decimal("3000.00"), 1)}


def test_a_returning_customer_is_a_reactivation_and_upgrades_the_same_day(plans):
    """The customer left Basic before the day, comes back on Basic in the morning and moves
    to Pro in the afternoon: 3000 of reactivation (the end-of-day price), no expansion."""
    old = start(plans["basic"], at(BEFORE - timedelta(days=30)))
    cancel_now(old, at(DAY - timedelta(days=10)))
    back = start(plans["basic"], at(DAY, 8), user=old.user)
    change(back, plans["pro"], at(DAY, 14))
    roll(DAY - timedelta(days=11), DAY - timedelta(days=10), DAY - timedelta(days=1), DAY)
    assert mrr(DAY - timedelta(days=11)) == {"usd": Decimal("1000.00")}
    assert mrr(DAY - timedelta(days=1)) == {}
    assert movements(DAY - timedelta(days=10)) == {"mrr_churned": (Decimal("1000.00"), 1)}
    assert movements(DAY) == {"mrr_reactivation": (Decimal("3000.00"), 1)}


def test_the_drilldown_lists_the_plan_and_price_of_that_day(plans):
    sub = change(start(plans["basic"], at(BEFORE)), plans["pro"], at(DAY, 12))
    [before] = mrr_subscriptions(DAY - timedelta(days=1), "usd")
    [after] = mrr_subscriptions(DAY, "usd")
    assert (before["subscription"], before["plan"], before["price"], before["monthly"]) == (
        sub,
        plans["basic"],
        plans["basic"].monthly_price,
        Decimal("1000.00"),
    )
    assert (after["plan"], after["price"], after["monthly"]) == (
        plans["pro"],
        plans["pro"].monthly_price,
        Decimal("3000.00"),
    )


def test_a_stripe_style_event_without_a_price_falls_back_to_the_current_price(plans):
    """Events written by billing's Stripe path before it recorded the old price carry only
    {"old_plan", "new_plan"}: analytics does not guess the old price, it keeps the current
    one. The event is written with billing's timeline service, as the webhook path does, at a
    chosen moment."""

    sub = start(plans["pro"], at(BEFORE))
    with time_machine.travel(at(DAY, 12), tick=False):
        timeline.add(
            sub,
            SubscriptionEvent.Type.PLAN_CHANGED,
            "Your plan is now Pro.",
            source=SubscriptionEvent.Source.STRIPE,
            payload={"old_plan": plans["basic"].pk, "new_plan": plans["pro"].pk},
        )
    roll(DAY - timedelta(days=1), DAY)
    assert mrr(DAY - timedelta(days=1)) == mrr(DAY) == {"usd": Decimal("3000.00")}
    assert movements(DAY) == {}


def test_a_change_at_midnight_belongs_to_the_day_it_opens(plans):
    """Days are [00:00, 24:00) UTC: a change stamped exactly 00:00 on DAY moves DAY's MRR,
    and DAY-1 ends on the old price."""
    change(start(plans["basic"], at(BEFORE)), plans["pro"], at(DAY, 0))
    roll(DAY - timedelta(days=1), DAY)
    assert mrr(DAY - timedelta(days=1)) == {"usd": Decimal("1000.00")}
    assert movements(DAY - timedelta(days=1)) == {}
    assert movements(DAY) == {"mrr_expansion": (Decimal("2000.00"), 1)}


def test_a_seat_change_synced_from_stripe_keeps_past_days_at_the_old_quantity():
    """Stripe is where a quantity changes (billing has no manual seat service): the webhook
    path's ``apply_stripe_subscription`` records the quantity before the change in its
    PLAN_CHANGED event, so the day before keeps 1 seat and the day of the change is 2000 of
    expansion (1 → 3 seats of $10)."""

    plan = PlanFactory()  # Stripe-billed, $10/month
    price = plan.monthly_price
    price.stripe_price_id = "price_seats"
    price.save(update_fields=["stripe_price_id"])
    with time_machine.travel(at(BEFORE), tick=False):
        sub = SubscriptionFactory(
            plan=plan, price=price, quantity=1, stripe_subscription_id="sub_seats"
        )
    obj = example(
        "subscription",
        id="sub_seats",
        status="active",
        cancel_at_period_end=False,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        trial_start=None,
        trial_end=None,
        metadata={},
    )
    obj["items"] = {
        "object": "list",
        "has_more": False,
        "url": "/v1/subscription_items",
        "data": [{**obj["items"]["data"][0], "price": {"id": "price_seats"}, "quantity": 3}],
    }

    with time_machine.travel(at(DAY, 12), tick=False):  # the webhook arrives then
        apply_stripe_subscription(obj, state_at=at(DAY, 12))

    sub.refresh_from_db()
    assert sub.quantity == 3
    event = sub.events.get(type=SubscriptionEvent.Type.PLAN_CHANGED)
    assert event.payload["quantity"] == 1 and event.payload["price"] == price.pk
    roll(DAY - timedelta(days=1), DAY)
    assert mrr(DAY - timedelta(days=1)) == {"usd": Decimal("1000.00")}
    assert mrr(DAY) == {"usd": Decimal("3000.00")}
    assert movements(DAY) == {"mrr_expansion": (Decimal("2000.00"), 1)}
    drilldown = mrr_subscriptions(DAY - timedelta(days=1), "usd")
    assert [row["monthly"] for row in drilldown] == [Decimal("1000.00")]
