"""Loads each app's periodic tasks (``<app>/schedules.py: SCHEDULES``) into django-celery-beat.

Beat reads its schedule from the database, so staff can pause or retime a task in the admin.
Loading is an upsert by name: a task a staff member disabled stays disabled, and re-running
never duplicates rows. Every installed app may declare schedules; an app without a
``schedules`` module, or whose module has no ``SCHEDULES``, declares none.
"""

import importlib
import json
from typing import Any

from django.apps import apps
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


def declared_schedules() -> list[dict[str, Any]]:
    """Every installed app's ``SCHEDULES`` entries, in the order of INSTALLED_APPS."""
    found: list[dict[str, Any]] = []
    for app_config in apps.get_app_configs():
        name = f"{app_config.name}.schedules"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.extend(getattr(module, "SCHEDULES", []))
    return found


def _schedule_for(entry: dict[str, Any]) -> dict[str, Any]:
    if "crontab" in entry:
        fields = {
            "minute": "*",
            "hour": "*",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            **entry["crontab"],
        }
        crontab, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **fields)
        return {"crontab": crontab, "interval": None}
    if "interval_seconds" in entry:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=int(entry["interval_seconds"]), period=IntervalSchedule.SECONDS
        )
        return {"interval": interval, "crontab": None}
    raise ValueError(f"Schedule {entry.get('name')!r} needs 'crontab' or 'interval_seconds'")


def sync_periodic_tasks() -> tuple[int, int]:
    """Create missing periodic tasks and update changed ones. Returns (created, updated)."""
    created = updated = 0
    with transaction.atomic():
        for entry in declared_schedules():
            schedule = _schedule_for(entry)
            defaults = {
                "task": entry["task"],
                "kwargs": json.dumps(entry.get("kwargs", {})),
                "description": entry.get("description", ""),
                **schedule,
            }
            task, was_created = PeriodicTask.objects.get_or_create(
                name=entry["name"], defaults=defaults
            )
            if was_created:
                created += 1
                continue
            changed = [k for k, v in defaults.items() if getattr(task, k) != v]
            if changed:
                for key in changed:
                    setattr(task, key, defaults[key])
                task.save()
                updated += 1
    return created, updated
