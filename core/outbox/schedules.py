SCHEDULES = [
    # Rows whose publish failed at commit (broker down) or whose process died: a broker outage
    # delays work by at most this much after the broker is back.
    {"name": "outbox.relay", "task": "config.outbox.tasks.relay_outbox", "interval_seconds": 30},
    # Published rows are kept a week for staff to trace a task, then deleted.
    {
        "name": "outbox.prune",
        "task": "config.outbox.tasks.prune_outbox",
        "crontab": {"minute": "40", "hour": "2"},
    },
]
