"""Celery tasks: send an endpoint's deliveries; pick up what is due (retries)."""

from celery import shared_task

from webhooks_out import services


@shared_task(name="webhooks_out.tasks.deliver_endpoint", time_limit=600, soft_time_limit=540)
def deliver_endpoint(endpoint_id: int) -> dict:
    return services.deliver_endpoint(endpoint_id)


@shared_task(name="webhooks_out.tasks.deliver_due", time_limit=120, soft_time_limit=100)
def deliver_due() -> int:
    return services.deliver_due()
