SCHEDULES = [
    {
        "name": "webhooks_out.deliver_due",
        "task": "webhooks_out.tasks.deliver_due",
        "interval_seconds": 60,
        "description": "Retry webhook deliveries whose pause is over",
    },
]
