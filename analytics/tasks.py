from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from analytics.rollup import rollup_day


@shared_task(name="analytics.tasks.rollup_yesterday", time_limit=30 * 60, soft_time_limit=25 * 60)
def rollup_yesterday() -> dict:
    """Roll up the previous UTC day. Replaces that day's rows, so a retry or a second beat
    run is harmless."""
    day = timezone.now().date() - timedelta(days=1)
    written = rollup_day(day)
    return {"day": day.isoformat(), "rows": written}


@shared_task(name="analytics.tasks.rollup_date", time_limit=30 * 60, soft_time_limit=25 * 60)
def rollup_date(day: str, families: list[str] | None = None) -> dict:
    """Roll up one ISO date (for re-running a day from the shell or the admin)."""

    parsed = date.fromisoformat(day)
    return {"day": day, "rows": rollup_day(parsed, families)}
