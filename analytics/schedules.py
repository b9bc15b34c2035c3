# Shortly after midnight UTC, once every payment, ticket and ledger row of the day is in.
SCHEDULES = [
    {
        "name": "analytics.rollup_yesterday",
        "task": "analytics.tasks.rollup_yesterday",
        "crontab": {"minute": "15", "hour": "0"},
    },
]
