"""The customers' MRR spans (analytics.CustomerMRR) that the database keeps equal, at every
instant, to MRR reconstructed from the subscriptions, their plan-change timeline and the
prices, whatever wrote the change.

The reference here is the reconstruction itself, written with the MRR fragments the drill-down
uses (``analytics.metrics.subscriptions``: the price as of an instant from the timeline, the
paying predicate): per customer and currency, the exact monthly sum and the number of
subscriptions paying at T. Both readings are compared at every instant where either could
change (each timestamp in the data, a microsecond either side) and at each midnight around
them.
"""

import random
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, connections, transaction

from accounts.factories import UserFactory
from analytics.metrics.base import dec, fetch
from analytics.metrics.subscriptions import sql_parts
from analytics.models import CustomerMRR
from analytics.tests.builders import DAY, at, backdate, price, subscribe
from billing.models import Subscription, SubscriptionEvent, SubscriptionStatus
from catalog.factories import PlanFactory
from catalog.models import Plan, Price

REFERENCE = """
    SELECT s.user_id, pe.currency, SUM({monthly_end}), COUNT(*)
    FROM {subs} s JOIN {plans} pl ON pl.id = s.plan_id
    {price_at_end}
    WHERE {paying_end}
    GROUP BY s.user_id, pe.currency
"""

SPANS = """
    SELECT customer_id, currency, mrr, subscriptions FROM analytics_customermrr
    WHERE pays_after < %(end)s AND (pays_until IS NULL OR pays_until >= %(end)s)
"""


def reconstructed(instant) -> dict:
    return {
        (user, currency): (Decimal(total), count)
        for user, currency, total, count in fetch(REFERENCE, {"end": instant}, **sql_parts())
    }


def kept(instant) -> dict:
    found: dict = {}
    for user, currency, total, count in fetch(SPANS, {"end": instant}):
        # At most one span per customer and currency holds at any instant.
        assert (user, currency) not in found, f"overlapping spans for {user} {currency}"
        found[(user, currency)] = (Decimal(total), count)
    return found


def instants() -> list:
    """Every timestamp in the data, a microsecond either side, and the midnights around."""
    points = set()
    for row in Subscription.objects.values_list(
        "created_at", "trial_end", "ended_at", "canceled_at", "current_period_end", "updated_at"
    ):
        points.update(value for value in row if value is not None)
    points.update(SubscriptionEvent.objects.values_list("created_at", flat=True))
    tick = timedelta(microseconds=1)
    found = {p + d for p in points for d in (-tick, timedelta(0), tick)}
    for p in points:
        midnight = p.replace(hour=0, minute=0, second=0, microsecond=0)
        found.update((midnight, midnight + timedelta(days=1)))
    return sorted(found)


def assert_kept_equal_to_reconstruction() -> int:
    checked = 0
    for instant in instants():
        assert kept(instant) == reconstructed(instant), f"at {instant.isoformat()}"
        checked += 1
    return checked


def plan_change(sub, when, **payload) -> SubscriptionEvent:
    """A PLAN_CHANGED event as billing writes it: the plan, price and quantity before it."""
    with time_machine.travel(when, tick=False):
        return SubscriptionEvent.objects.create(
            subscription=sub,
            type=SubscriptionEvent.Type.PLAN_CHANGED,
            source=SubscriptionEvent.Source.STAFF,
            message="Plan changed.",
            payload=payload,
        )


def random_history(rng: random.Random) -> None:
    """Customers with several subscriptions each, in every status, with trials,
    cancellations of every kind, plan changes with and without a recorded price, several
    currencies and intervals."""
    prices = [
        price(2900),
        price(29000, "year"),
        price(700, "week"),
        price(1900, currency="eur"),
        price(8000, count=3),
        price(100, "day"),
    ]
    plans = [PlanFactory(monthly_price=rng.choice(prices)) for _ in range(3)]
    statuses = list(SubscriptionStatus.values)
    start = at(DAY, 0)

    def moment():
        return start + timedelta(seconds=rng.randrange(0, 10 * 86400))

    for _ in range(5):
        user = UserFactory()
        for _ in range(rng.randint(1, 4)):
            created = moment()
            status = rng.choice(statuses + ["ACTIVE", "CANCELED"] * 2)
            fields = {}
            if rng.random() < 0.3:
                fields["trial_end"] = created + timedelta(hours=rng.randint(-5, 72))
            if status == "CANCELED":
                kind = rng.randrange(4)
                end = created + timedelta(hours=rng.randint(0, 120))
                if kind == 0:
                    fields["ended_at"] = end
                elif kind == 1:
                    fields.update(cancel_at_period_end=True, current_period_end=end)
                elif kind == 2:
                    fields["canceled_at"] = end
            sub = subscribe(
                user,
                price_obj=rng.choice(prices + [None]),
                plan_obj=rng.choice(plans),
                created=created,
                status=status,
                quantity=rng.randint(1, 3),
                **fields,
            )
            changes = sorted(created + timedelta(hours=rng.randint(0, 200)) for _ in range(3))
            for when in changes[: rng.randint(0, 3)]:
                payload = {}
                if rng.random() < 0.8:
                    payload["plan"] = rng.choice(plans).pk
                if rng.random() < 0.7:
                    payload["price"] = rng.choice(prices).pk
                if rng.random() < 0.5:
                    payload["quantity"] = rng.randint(1, 5)
                plan_change(sub, when, **payload)
                if rng.random() < 0.2:  # two changes in the same microsecond
                    plan_change(sub, when, price=rng.choice(prices).pk)


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_are_kept_equal_to_the_reconstruction(seed):
    random_history(random.Random(seed))
    assert CustomerMRR.objects.exists()
    assert assert_kept_equal_to_reconstruction() > 100


@pytest.fixture
def history():
    random_history(random.Random(42))
    assert assert_kept_equal_to_reconstruction()
    return Subscription.objects.order_by("id")


def test_a_bulk_update_of_subscriptions_is_kept(history):
    Subscription.objects.filter(status="ACTIVE").update(
        status="CANCELED", canceled_at=at(DAY + timedelta(days=3))
    )
    Subscription.objects.filter(status="PAST_DUE").update(quantity=7)
    assert_kept_equal_to_reconstruction()


def test_a_subscription_moved_to_another_customer_is_kept_for_both(history):
    sub = history.filter(status="ACTIVE").first()
    other = history.exclude(user=sub.user).first().user
    Subscription.objects.filter(pk=sub.pk).update(user=other)
    assert_kept_equal_to_reconstruction()


def test_a_deleted_subscription_leaves_no_span(history):
    # The timeline protects a subscription with events; one without can be deleted.
    sub = history.filter(status__in=["ACTIVE", "PAST_DUE"], events__isnull=True).first()
    assert sub is not None and kept(at(DAY + timedelta(days=11)))
    Subscription.objects.filter(pk=sub.pk).delete()
    assert_kept_equal_to_reconstruction()


def test_a_price_edit_reprices_every_span_that_reads_it(history):
    for p in Price.objects.all():
        Price.objects.filter(pk=p.pk).update(unit_amount=p.unit_amount + 111)
    Price.objects.filter(interval="week").update(interval="month", interval_count=2)
    Price.objects.filter(currency="eur").update(currency="gbp")
    assert_kept_equal_to_reconstruction()


def test_a_plan_whose_monthly_price_changes_reprices_its_subscriptions(history):
    replacement = price(4321)
    Plan.objects.update(monthly_price=replacement)
    assert_kept_equal_to_reconstruction()


def test_a_deleted_price_only_a_plan_change_recorded_drops_from_the_past():
    old = price(5000)
    sub = subscribe(price_obj=price(1000), created=at(DAY, 1))
    plan_change(sub, at(DAY, 12), price=old.pk)
    assert kept(at(DAY, 6)) == {(sub.user_id, "usd"): (Decimal(5000), 1)}
    old.delete()
    assert kept(at(DAY, 6)) == {} == reconstructed(at(DAY, 6))
    assert_kept_equal_to_reconstruction()


def test_a_stripe_sync_touching_other_columns_does_not_recompute(history):
    sub = history.filter(status="ACTIVE").first()
    before = list(CustomerMRR.objects.filter(customer=sub.user).values_list("id", flat=True))
    Subscription.objects.filter(pk=sub.pk).update(
        metadata={"synced": True}, stripe_state_at=at(DAY + timedelta(days=9))
    )
    after = list(CustomerMRR.objects.filter(customer=sub.user).values_list("id", flat=True))
    assert before == after  # the same rows, not deleted and written again


def test_the_end_of_a_canceled_subscription_without_dates_follows_its_last_update():
    sub = subscribe(price_obj=price(1000), created=at(DAY, 1), status="CANCELED")
    Subscription.objects.filter(pk=sub.pk).update(updated_at=at(DAY, 9))
    assert kept(at(DAY, 9)) == {(sub.user_id, "usd"): (Decimal(1000), 1)}
    assert kept(at(DAY, 9) + timedelta(microseconds=1)) == {}
    assert_kept_equal_to_reconstruction()


def test_a_trial_ending_at_an_instant_pays_from_that_instant():
    sub = subscribe(price_obj=price(1000), created=at(DAY, 1), trial_end=at(DAY, 8))
    assert kept(at(DAY, 8) - timedelta(microseconds=1)) == {}
    assert kept(at(DAY, 8)) == {(sub.user_id, "usd"): (Decimal(1000), 1)}


def test_two_subscriptions_of_a_customer_make_one_span_per_currency():
    user = UserFactory()
    subscribe(user, price_obj=price(1000), created=at(DAY, 1))
    subscribe(user, price_obj=price(29000, "year"), created=at(DAY, 5))
    subscribe(user, price_obj=price(1900, currency="eur"), created=at(DAY, 3))
    noon = at(DAY, 12)
    # $10 a month and $290 a year (2416.666... a month, PostgreSQL's exact quotient).
    assert {key: (dec(total), n) for key, (total, n) in kept(noon).items()} == {
        (user.pk, "usd"): (Decimal("3416.67"), 2),
        (user.pk, "eur"): (Decimal(1900), 1),
    }
    assert kept(noon) == reconstructed(noon)


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_to_one_customer_are_both_kept():
    """Two transactions change two subscriptions of the same customer at once. The second's
    recomputation waits for the first to commit and then reads its change, so the spans hold
    both (without that wait, each would write spans from its own snapshot, and the last
    commit would lose the other's change)."""
    user = UserFactory()
    first = subscribe(user, price_obj=price(1000), created=at(DAY, 1))
    second = subscribe(user, price_obj=price(2000), created=at(DAY, 1))
    first_updated = threading.Event()
    errors: list[BaseException] = []

    def change_first():
        try:
            with transaction.atomic():
                Subscription.objects.filter(pk=first.pk).update(quantity=3)
                first_updated.set()
                # Hold the transaction open while the other one updates and waits.
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_sleep(0.5)")
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def change_second():
        try:
            assert first_updated.wait(10)
            Subscription.objects.filter(pk=second.pk).update(quantity=5)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=change_first), threading.Thread(target=change_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    noon = at(DAY, 12)
    assert kept(noon) == {(user.pk, "usd"): (Decimal(3 * 1000 + 5 * 2000), 2)}
    assert kept(noon) == reconstructed(noon)


def test_backdating_a_subscription_moves_its_span(history):
    sub = history.filter(status="ACTIVE").first()
    backdate(sub, sub.created_at - timedelta(days=30))
    assert_kept_equal_to_reconstruction()
