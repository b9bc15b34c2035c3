"""The shape of a metric family and the helpers every family shares."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, models
from psycopg import sql

from core.prepared import prepared_cursor


class Unit:
    MONEY = "money"  # minor units of the dimension's currency, two decimals
    COUNT = "count"
    CREDITS = "credits"
    RATIO = "ratio"  # 0..1
    SECONDS = "seconds"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    # The dimension's meaning ("currency", "operation"); "" when the metric is a total only.
    dimension: str = ""


@dataclass(frozen=True)
class Row:
    metric: str
    value: Decimal
    dimension: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MetricFamily:
    """Metrics computed together, from one grouped SQL query over one day's source rows.

    ``definition`` is the written definition shown next to the charts. Bump ``version``
    whenever the definition (and so the numbers) change, then ``recompute`` the range.
    """

    key: str
    title: str
    version: int
    definition: str
    metrics: tuple[Metric, ...]
    compute: Callable[[date], list[Row]]

    @property
    def metric_keys(self) -> list[str]:
        return [m.key for m in self.metrics]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of ``day`` in UTC: every family counts events with start <= t < end."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _part(value) -> sql.Composable:
    if isinstance(value, sql.Composable):
        return value
    if isinstance(value, type) and issubclass(value, models.Model):
        return sql.Identifier(value._meta.db_table)
    return sql.SQL(value)


def fetch(template: str, params: dict, *, prepared: bool = False, **parts) -> list[tuple]:
    """Run ``template`` with its ``{name}`` parts filled in, values always bound as params.

    A model class becomes its quoted table name; a string is one of this package's own SQL
    fragments (constants, never input); a ``psycopg.sql`` composable is used as it is.
    ``prepared``: plan the statement once per connection (core.prepared), for a query whose
    plan does not depend on its values."""
    query = sql.SQL(template).format(**{name: _part(v) for name, v in parts.items()})
    with prepared_cursor() if prepared else connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def dec(value, places: str = "0.01") -> Decimal:
    """Decimal rounded half away from zero (as PostgreSQL's round) to ``places``."""

    return Decimal(value or 0).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def ratio(numerator, denominator) -> Decimal:
    if not denominator:
        return Decimal("0")
    return dec(Decimal(numerator) / Decimal(denominator), "0.000001")
