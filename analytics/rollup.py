"""Writing the rollups: the only code that inserts or deletes DailyMetric rows."""

from collections.abc import Iterable
from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from analytics.errors import InvalidDateRange, UnknownMetric
from analytics.metrics import MetricFamily, families, family_of
from analytics.models import DailyMetric

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


def rollup_day(day: date, families: Iterable[str] | None = None) -> int:
    """Compute ``day`` for the given families (keys; all when ``None``) and replace that
    day's rows of those families: one transaction, delete then insert, so a re-run never
    doubles a row and a reader never sees half a day. Two rollups of the same day serialise
    on an advisory lock. Safe to call any number of times. Returns the rows written."""
    selected = resolve_families(families)
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, day.toordinal()]
            )
        rows = []
        for family in selected:
            rows += [
                DailyMetric(
                    date=day,
                    metric=row.metric,
                    dimension=row.dimension,
                    value=row.value,
                    metadata=row.metadata,
                    definition_version=family.version,
                    computed_at=now,
                )
                for row in family.compute(day)
            ]
        keys = [key for family in selected for key in family.metric_keys]
        DailyMetric.objects.filter(date=day, metric__in=keys).delete()
        DailyMetric.objects.bulk_create(rows)
    return len(rows)


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
