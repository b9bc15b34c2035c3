"""What the staff dashboard shows: charts (one spec each), KPI tiles and their data."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q, Sum

from analytics.metrics import Metric, family_of, get_metric
from analytics.models import DailyMetric
from analytics.selectors import series


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    metrics: tuple[str, ...]
    # "currency": the selected currency only; "total": the "" rows; "split": every
    # dimension of the (single) metric, one line each.
    mode: str
    unit: str

    def families(self):
        seen = []
        for key in self.metrics:
            family = family_of(key)
            if family not in seen:
                seen.append(family)
        return seen


CHARTS = (
    Chart("mrr", "MRR", ("mrr",), "currency", "money"),
    Chart(
        "movements",
        "MRR movements",
        ("mrr_new", "mrr_expansion", "mrr_reactivation", "mrr_contraction", "mrr_churned"),
        "currency",
        "money",
    ),
    Chart("revenue", "Revenue", ("gross_revenue", "refunds", "net_revenue"), "currency", "money"),
    Chart(
        "subscriptions",
        "Subscriptions",
        ("active_subscriptions", "trialing_subscriptions"),
        "total",
        "count",
    ),
    Chart("churn", "Churn", ("new_subscriptions", "churned_subscriptions"), "total", "count"),
    Chart("churn_rate", "Subscriber churn rate", ("subscriber_churn_rate",), "total", "ratio"),
    Chart("credits", "Credits consumed by operation", ("credits_consumed",), "split", "credits"),
    Chart("customers", "Customers", ("new_customers", "low_balance_customers"), "total", "count"),
    Chart("tickets", "Tickets", ("tickets_opened", "tickets_resolved"), "total", "count"),
    Chart(
        "first_response",
        "Median first response (seconds)",
        ("median_first_response_seconds",),
        "total",
        "seconds",
    ),
    Chart(
        "bot",
        "Help bot: deflection, answer and helpful rates",
        ("bot_deflection_rate", "bot_answer_rate", "bot_helpful_rate"),
        "total",
        "ratio",
    ),
)


def _metric(key: str) -> Metric:
    """The registered metric ``key``; AttributeError for an unknown key, as reading the
    fields of the missing metric raised."""
    spec = get_metric(key)
    if spec is None:
        raise AttributeError(f"No metric {key!r} is registered.")
    return spec


def chart_payload(chart: Chart, start: date, end: date, currency: str) -> dict:
    labels = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    dimension = {"currency": currency, "total": "", "split": None}[chart.mode]
    data = series(list(chart.metrics), start, end, dimension)
    datasets = []
    for key in chart.metrics:
        label = _metric(key).label
        for dim, points in sorted(data[key].items()):
            by_day = dict(points)
            name = (dim or "All operations") if chart.mode == "split" else label
            datasets.append(
                {
                    "label": name,
                    "metric": key,
                    "dimension": dim,
                    "data": [by_day.get(day) for day in labels],
                }
            )
    return {
        "key": chart.key,
        "title": chart.title,
        "unit": chart.unit,
        "labels": labels,
        "datasets": datasets,
        "empty": not datasets,
    }


STOCKS = (
    ("mrr", True),
    ("arr", True),
    ("arpu", True),
    ("active_subscriptions", False),
    ("low_balance_customers", False),
)
FLOWS = (
    ("net_revenue", True),
    ("new_customers", False),
    ("credits_consumed", False),
    ("tickets_opened", False),
)


def _window_sums(keys: list[tuple[str, str]], latest: date) -> dict:
    """Σ over the 30 days ending ``latest`` ("now") and the 30 days before ("before")."""
    split = latest - timedelta(days=30)
    wanted = Q()
    for metric, dim in keys:
        wanted |= Q(metric=metric, dimension=dim)
    rows = (
        DailyMetric.objects.filter(wanted, date__gt=latest - timedelta(days=60), date__lte=latest)
        .values("metric", "dimension")
        .annotate(
            now=Sum("value", filter=Q(date__gt=split)),
            before=Sum("value", filter=Q(date__lte=split)),
        )
    )
    return {(r["metric"], r["dimension"]): (r["now"], r["before"]) for r in rows}


# Figures whose fall is good news (painted green) and whose rise is bad (red).
LOWER_IS_BETTER = {"subscriber_churn_rate"}


def _tile(key: str, label: str, unit: str, now, before, note: str, currency: str = "") -> dict:
    change = None
    if now is not None and before:
        change = round(float((Decimal(now) - Decimal(before)) / Decimal(before) * 100), 1)
    good = None
    if change:
        good = (change < 0) if key in LOWER_IS_BETTER else (change > 0)
    return {
        "key": key,
        "label": label,
        "unit": unit,
        "now": now,
        "before": before,
        "change": change,
        "good": good,
        "note": note,
        "currency": currency,
        "fmt": f"{unit}:{currency}",
    }


def kpi_tiles(latest: date | None, currency: str) -> list[dict]:
    """Stocks (MRR, ARR, …) on the latest rolled-up day against 30 days earlier; flows
    (revenue, sign-ups, …) as 30-day totals against the 30 days before."""
    if latest is None:
        return []
    before_day = latest - timedelta(days=30)
    stock_keys = [(m, currency if per_cur else "") for m, per_cur in STOCKS]
    found = {
        (r.metric, r.dimension, r.date): r.value
        for r in DailyMetric.objects.filter(
            date__in=[latest, before_day], metric__in=[m for m, _ in stock_keys]
        )
    }
    tiles = []
    for metric, dim in stock_keys:
        spec = _metric(metric)
        tiles.append(
            _tile(
                metric,
                spec.label,
                spec.unit,
                found.get((metric, dim, latest)),
                found.get((metric, dim, before_day)),
                f"on {latest:%d %b} vs {before_day:%d %b}",
                dim,
            )
        )
    flow_keys = [(m, currency if per_cur else "") for m, per_cur in FLOWS]
    sums = _window_sums(
        flow_keys
        + [
            ("churned_subscriptions", ""),
            ("new_subscriptions", ""),
            ("bot_deflected", ""),
            ("bot_conversations", ""),
        ],
        latest,
    )
    for metric, dim in flow_keys:
        spec = _metric(metric)
        now, before = sums.get((metric, dim), (None, None))
        tiles.append(
            _tile(metric, spec.label, spec.unit, now, before, "last 30 days vs the 30 before", dim)
        )
    tiles.append(_churn_tile(latest, sums))
    return tiles


def _churn_tile(latest: date, sums: dict) -> dict:
    """Σ churned ÷ (paying at the start of the window + Σ new), per 30-day window."""
    starts = {
        r.date: r.value
        for r in DailyMetric.objects.filter(
            metric="active_subscriptions_at_start",
            dimension="",
            date__in=[latest - timedelta(days=29), latest - timedelta(days=59)],
        )
    }
    churned = sums.get(("churned_subscriptions", ""), (None, None))
    new = sums.get(("new_subscriptions", ""), (None, None))

    def rate(index, start_day):
        base = starts.get(start_day)
        if base is None or churned[index] is None:
            return None
        denominator = base + (new[index] or 0)
        return (churned[index] / denominator) if denominator else Decimal(0)

    return _tile(
        "subscriber_churn_rate",
        "Subscriber churn (30 days)",
        "ratio",
        rate(0, latest - timedelta(days=29)),
        rate(1, latest - timedelta(days=59)),
        "last 30 days vs the 30 before",
    )
