SCHEDULES = [
    {
        "name": "credits.expire_credits",
        "task": "credits.tasks.expire_credits",
        "crontab": {"minute": "7"},
    },
    {
        "name": "credits.check_invariant",
        "task": "credits.tasks.check_invariant",
        "crontab": {"minute": "30", "hour": "3"},
    },
    # Name and task name kept from when webhooks_out ran the batch (rows already in beat).
    {
        "name": "webhooks_out.batch_consumption",
        "task": "webhooks_out.tasks.batch_consumption",
        "interval_seconds": 300,
        "description": "Report the credits consumed since the last batch (credits.consumed)",
    },
]
