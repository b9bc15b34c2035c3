"""Reads of the rollups for the API, the dashboard and the CSV export."""

from datetime import date
from decimal import Decimal

from django.db.models import Max, QuerySet

from analytics.errors import InvalidDateRange, UnknownMetric
from analytics.metrics import Metric, get_metric
from analytics.metrics.base import day_bounds, fetch
from analytics.metrics.subscriptions import sql_parts
from analytics.models import DailyMetric
from billing.models import Subscription
from catalog.models import Plan, Price

MAX_RANGE_DAYS = 366


def parse_day(value: str | None, name: str) -> date:
    if not value:
        raise InvalidDateRange(
            f"'{name}' is required (YYYY-MM-DD).",
            code="missing_date",
            fields={name: ["This field is required."]},
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidDateRange(
            f"'{name}' must be a date as YYYY-MM-DD.",
            code="invalid_date",
            fields={name: ["Enter a date as YYYY-MM-DD."]},
        ) from None


def check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidDateRange("'to' is before 'from'.", code="invalid_date_range")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidDateRange(
            f"A range covers at most {MAX_RANGE_DAYS} days.",
            code="range_too_long",
            max_days=MAX_RANGE_DAYS,
        )


def check_metric(key: str | None) -> Metric:
    metric = get_metric(key or "")
    if metric is None:
        raise UnknownMetric(f"Unknown metric {key!r}.", metric=key or "")
    return metric


def metric_rows(metric: str, start: date, end: date, dimension: str | None = None) -> QuerySet:
    """One metric's rows over [start, end], by date then dimension. ``dimension=None`` means
    every dimension; "" the totals only."""
    rows = DailyMetric.objects.filter(metric=metric, date__gte=start, date__lte=end)
    if dimension is not None:
        rows = rows.filter(dimension=dimension)
    return rows.order_by("date", "dimension")


def series(metrics: list[str], start: date, end: date, dimension: str | None) -> dict:
    """{metric: {dimension: [[iso date, float], ...]}} for the charts."""
    out: dict = {key: {} for key in metrics}
    rows = (
        DailyMetric.objects.filter(metric__in=metrics, date__gte=start, date__lte=end)
        .order_by("date")
        .values_list("metric", "dimension", "date", "value")
    )
    if dimension is not None:
        rows = rows.filter(dimension=dimension)
    for metric, dim, day, value in rows:
        out[metric].setdefault(dim, []).append([day.isoformat(), float(value)])
    return out


def latest_day() -> date | None:
    latest: date | None = DailyMetric.objects.aggregate(latest=Max("date"))["latest"]
    return latest


def currencies() -> list[str]:
    return sorted(
        DailyMetric.objects.filter(metric__in=["mrr", "gross_revenue"])
        .exclude(dimension="")
        .order_by("dimension")
        .values_list("dimension", flat=True)
        .distinct()
    )


DRILLDOWN_SQL = """
    SELECT s.id, ROUND({monthly_end}, 2) AS monthly, pe.id,
           COALESCE((pe_ev.payload ->> 'plan')::bigint, s.plan_id)
    FROM {subs} s JOIN {plans} pl ON pl.id = s.plan_id
    {price_at_end}
    WHERE {relevant} AND {paying_end} AND pe.currency = %(currency)s
    ORDER BY monthly DESC, s.id
"""


def mrr_subscriptions(day: date, currency: str) -> list[dict]:
    """The subscriptions behind ``day``'s MRR in ``currency``, as the MRR family counts them
    (same predicate, same price as of the end of the day), with each one's monthly amount,
    largest first, and the plan and price it had then (``plan``, ``price``)."""

    start, end = day_bounds(day)
    found = fetch(DRILLDOWN_SQL, {"start": start, "end": end, "currency": currency}, **sql_parts())
    subs = Subscription.objects.select_related("user", "plan", "price", "plan__monthly_price")
    by_id = subs.in_bulk([row[0] for row in found])
    prices = Price.objects.in_bulk({row[2] for row in found})
    plans = Plan.objects.in_bulk({row[3] for row in found})
    return [
        {
            "subscription": by_id[sid],
            "monthly": Decimal(monthly),
            "price": prices[price_id],
            "plan": plans[plan_id],
        }
        for sid, monthly, price_id, plan_id in found
        if sid in by_id
    ]
