SCHEDULES = [
    {"name": "webhooks_out.deliver_due", "task": "webhooks_out.tasks.deliver_due",
     "interval_seconds": 60,
     "description": "Retry webhook deliveries whose pause is over"},
    {"name": "webhooks_out.batch_consumption", "task": "webhooks_out.tasks.batch_consumption",
     "interval_seconds": 300,
     "description": "Report the credits consumed since the last batch (credits.consumed)"},
]
