SCHEDULES = [
    # Failed Stripe events whose backoff has elapsed, and rows a dead worker left behind.
    {
        "name": "billing.retry_webhook_events",
        "task": "billing.tasks.retry_webhook_events",
        "interval_seconds": 60,
    },
    # Stripe refunds whose API call failed (network, 5xx) are resubmitted with the same key.
    {
        "name": "billing.retry_pending_refunds",
        "task": "billing.tasks.retry_pending_refunds",
        "interval_seconds": 300,
    },
    # Manual billing: renew ended periods, reminders, past due, unpaid.
    {
        "name": "billing.renew_manual_subscriptions",
        "task": "billing.tasks.renew_manual_subscriptions",
        "interval_seconds": 3600,
    },
    # Stripe catalog pull/push.
    {
        "name": "billing.sync_stripe_catalog",
        "task": "billing.tasks.sync_stripe_catalog",
        "interval_seconds": 300,
    },
    # Missing events of the last 3 days, and subscription drift.
    {
        "name": "billing.reconcile_stripe",
        "task": "billing.tasks.reconcile_stripe",
        "crontab": {"minute": "20", "hour": "3"},
    },
]
