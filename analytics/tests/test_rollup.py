"""rollup_day replaces a day, never doubles it; recompute; the task and the command."""

import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.factories import UserFactory
from analytics.errors import InvalidDateRange, UnknownMetric
from analytics.metrics import all_metric_keys, families
from analytics.models import DailyMetric
from analytics.rollup import recompute, rollup_day
from analytics.schedules import SCHEDULES
from analytics.tasks import rollup_yesterday
from analytics.tests.builders import DAY, at, payment, price, subscribe

pytestmark = pytest.mark.django_db


def snapshot(day=DAY):
    return sorted(
        DailyMetric.objects.filter(date=day).values_list("metric", "dimension", "value", "metadata")
    )


def _some_business():
    buyer = UserFactory()
    payment(buyer, 2900, when=at(DAY, 10))
    subscribe(buyer, price_obj=price(2900), created=at(DAY - timedelta(days=3)))


def test_rerunning_a_day_replaces_its_rows_and_never_doubles_them():
    _some_business()
    first = rollup_day(DAY)
    before = snapshot()
    second = rollup_day(DAY)
    assert first == second == len(before)
    assert snapshot() == before
    assert DailyMetric.objects.filter(date=DAY, metric="gross_revenue").count() == 1


def test_rerun_after_a_source_change_replaces_the_values():
    _some_business()
    rollup_day(DAY)
    payment(UserFactory(), 1000, when=at(DAY, 11))
    rollup_day(DAY, ["revenue"])
    row = DailyMetric.objects.get(date=DAY, metric="gross_revenue", dimension="usd")
    assert row.value == Decimal("3900")
    assert row.metadata == {"payments": 2}
    assert DailyMetric.objects.filter(date=DAY, metric="gross_revenue").count() == 1


def test_rerun_drops_a_dimension_that_no_longer_has_data():
    buyer = UserFactory()
    eur = payment(buyer, 1200, when=at(DAY, 9), currency="eur")
    rollup_day(DAY, ["revenue"])
    assert DailyMetric.objects.filter(date=DAY, metric="gross_revenue", dimension="eur").exists()
    type(eur).objects.filter(pk=eur.pk).update(status="FAILED")
    rollup_day(DAY, ["revenue"])
    assert not DailyMetric.objects.filter(date=DAY, metric="gross_revenue").exists()


def test_rolling_up_one_family_leaves_the_others_alone():
    _some_business()
    rollup_day(DAY)
    mrr_before = DailyMetric.objects.get(date=DAY, metric="mrr", dimension="usd")
    rollup_day(DAY, ["revenue"])
    assert DailyMetric.objects.get(date=DAY, metric="mrr", dimension="usd").pk == mrr_before.pk


def test_every_family_has_a_definition_a_version_and_unique_metric_keys():
    keys = all_metric_keys()
    assert len(keys) == len(set(keys))
    for family in families():
        assert family.version >= 1
        assert len(family.definition.split()) > 10, family.key


def test_unknown_family_is_refused_and_writes_nothing():
    with pytest.raises(UnknownMetric):
        rollup_day(DAY, ["nope"])
    assert not DailyMetric.objects.exists()


def test_recompute_reruns_one_family_over_a_range_by_metric_key():
    _some_business()
    days = recompute("arr", DAY - timedelta(days=1), DAY + timedelta(days=1))
    assert days == 3
    assert set(DailyMetric.objects.values_list("metric", flat=True)) == {
        "mrr",
        "arr",
        "paying_customers",
        "arpu",
    }
    assert DailyMetric.objects.filter(metric="mrr").count() == 3
    with pytest.raises(InvalidDateRange):
        recompute("mrr", DAY, DAY - timedelta(days=1))


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_rollups_of_the_same_day_leave_one_set_of_rows():
    _some_business()
    errors = []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            rollup_day(DAY)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert DailyMetric.objects.filter(date=DAY, metric="gross_revenue").count() == 1
    assert DailyMetric.objects.filter(date=DAY, metric="mrr").count() == 1


def test_nightly_task_rolls_up_yesterday_utc():
    _some_business()
    with time_machine.travel(at(DAY + timedelta(days=1), 0, 15), tick=False):
        result = rollup_yesterday.delay().get()
    assert result["day"] == DAY.isoformat()
    assert DailyMetric.objects.get(date=DAY, metric="gross_revenue").value == 2900
    assert set(DailyMetric.objects.values_list("date", flat=True)) == {DAY}


def test_schedule_runs_shortly_after_midnight_utc():
    assert SCHEDULES == [
        {
            "name": "analytics.rollup_yesterday",
            "task": "analytics.tasks.rollup_yesterday",
            "crontab": {"minute": "15", "hour": "0"},
        }
    ]


def test_command_backfills_a_range_and_reports_it():
    _some_business()
    out = StringIO()
    call_command(
        "rollup_metrics",
        "--from",
        (DAY - timedelta(days=2)).isoformat(),
        "--to",
        DAY.isoformat(),
        "--no-progress",
        stdout=out,
    )
    assert "Rolled up 3 day(s)" in out.getvalue()
    assert DailyMetric.objects.filter(metric="mrr").count() == 3
    call_command(
        "rollup_metrics",
        "--from",
        DAY.isoformat(),
        "--metric",
        "revenue",
        "--no-progress",
        stdout=StringIO(),
    )
    assert DailyMetric.objects.filter(metric="gross_revenue").count() == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2026-13-01"], "--from must be a date"),
        (["--from", "2026-03-02", "--to", "yesterday"], "--to must be a date"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "--to is before --from"),
        (["--from", "2026-03-01", "--metric", "nope"], "Unknown metric 'nope'"),
        (["--from", "2999-01-01"], "in the future"),
    ],
)
def test_command_refuses_bad_input_with_a_clear_error(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rollup_metrics", *args, "--no-progress", stdout=StringIO())
    assert not DailyMetric.objects.exists()
