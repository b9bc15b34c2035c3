"""Periodic tasks, loaded into django-celery-beat by ``setup_periodic_tasks``."""

SCHEDULES = [
    # Resolved tickets older than support_auto_close_days are closed; safe to run any time.
    {
        "name": "support.auto_close_resolved",
        "task": "support.tasks.auto_close_resolved_tickets",
        "crontab": {"minute": "17"},
    },
]
