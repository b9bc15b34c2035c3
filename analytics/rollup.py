"""Writing the rollups: the only code that inserts or deletes DailyMetric rows."""

import json
from collections.abc import Iterable
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from analytics.errors import InvalidDateRange, UnknownMetric
from analytics.metrics import MetricFamily, families, family_of
from analytics.models import DailyMetric
from core.prepared import prepared_cursor

# pg_advisory_xact_lock's first key: "analytics rollup". The second is the day's ordinal.
_LOCK_NAMESPACE = 8_1000


def resolve_families(keys: Iterable[str] | None) -> list[MetricFamily]:
    """Families for family keys or metric keys (``None`` = all). Raises ``UnknownMetric``."""
    if keys is None:
        return families()
    selected: list[MetricFamily] = []
    for key in keys:
        family = family_of(key)
        if family is None:
            raise UnknownMetric(f"Unknown metric {key!r}.", metric=key)
        if family not in selected:
            selected.append(family)
    return selected


# The day's rows of the families rolled up, replaced by one statement: rows computed now are
# written over the stored ones (the unique day-metric-dimension key), and stored rows of those
# metrics that were not computed this time are deleted. The text is constant (the rows travel
# as arrays), so it is prepared once per connection.
_STORE_TEMPLATE = """
    WITH computed (metric, dimension, value, metadata, definition_version) AS (
        SELECT * FROM unnest(%(metrics)s::text[], %(dimensions)s::text[],
                             %(values)s::numeric[], %(metadata)s::jsonb[], %(versions)s::int[])
    ), stale AS (
        DELETE FROM {table} AS stored
        WHERE stored.date = %(day)s AND stored.metric = ANY(%(keys)s::text[])
          AND NOT EXISTS (SELECT FROM computed
                          WHERE computed.metric = stored.metric
                            AND computed.dimension = stored.dimension)
    )
    INSERT INTO {table} AS stored
           (date, metric, dimension, value, metadata, definition_version, computed_at)
    SELECT %(day)s, metric, dimension, value, metadata, definition_version, %(now)s
    FROM computed
    ON CONFLICT (date, metric, dimension) DO UPDATE
       SET value = EXCLUDED.value, metadata = EXCLUDED.metadata,
           definition_version = EXCLUDED.definition_version, computed_at = EXCLUDED.computed_at
"""
# The table name from the model: a constant, never input.
_STORE_SQL = _STORE_TEMPLATE.format(table=DailyMetric._meta.db_table)


def rollup_day(day: date, families: Iterable[str] | None = None) -> int:
    """Compute ``day`` for the given families (keys; all when ``None``) and replace that
    day's rows of those families: one transaction, and one statement that writes the computed
    rows and deletes the stale ones, so a re-run never doubles a row and a reader never sees
    half a day. Two rollups of the same day serialise on an advisory lock, taken before
    computing. Safe to call any number of times. Returns the rows written."""
    selected = resolve_families(families)
    with transaction.atomic():
        with prepared_cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, day.toordinal()]
            )
        computed = [(family, row) for family in selected for row in family.compute(day)]
        with prepared_cursor() as cursor:
            cursor.execute(
                _STORE_SQL,
                {
                    "day": day,
                    "now": timezone.now(),
                    "keys": [key for family in selected for key in family.metric_keys],
                    "metrics": [row.metric for _, row in computed],
                    "dimensions": [row.dimension for _, row in computed],
                    "values": [row.value for _, row in computed],
                    "metadata": [json.dumps(row.metadata) for _, row in computed],
                    "versions": [family.version for family, _ in computed],
                },
            )
    return len(computed)


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise InvalidDateRange("The end date is before the start date.")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def recompute(metric: str, start: date, end: date) -> int:
    """Re-run the family of ``metric`` (a metric or family key) for every day of
    [start, end], e.g. after its definition and version changed. Returns the days done."""
    family = resolve_families([metric])[0]
    days = days_between(start, end)
    for day in days:
        rollup_day(day, [family.key])
    return len(days)
