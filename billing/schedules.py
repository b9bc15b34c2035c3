SCHEDULES = [
    # Failed Stripe events whose backoff has elapsed, and rows a dead worker left behind.
    {"name": "billing.retry_webhook_events", "task": "billing.tasks.retry_webhook_events",
     "interval_seconds": 60},
    # Stripe refunds whose API call failed (network, 5xx) are resubmitted with the same key.
    {"name": "billing.retry_pending_refunds", "task": "billing.tasks.retry_pending_refunds",
     "interval_seconds": 300},
]
