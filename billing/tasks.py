"""Celery tasks: take ids, call one service, safe to run twice."""

from celery import shared_task

from billing.services import inbox


@shared_task(name="billing.tasks.process_webhook_event", acks_late=True)
def process_webhook_event(event_id: int) -> str:
    # Failures are recorded on the row and retried by retry_webhook_events with backoff,
    # not by Celery's own retry, so the bound and the error live in one place: the inbox.
    return inbox.process_event(event_id=event_id)


@shared_task(name="billing.tasks.retry_webhook_events")
def retry_webhook_events() -> int:
    ids = inbox.due_event_ids()
    for event_id in ids:
        inbox.process_event(event_id=event_id)
    return len(ids)


@shared_task(name="billing.tasks.process_stripe_refund")
def process_stripe_refund(refund_id: int) -> str:
    from billing.services.refunds import RETRYABLE, submit_stripe_refund

    try:
        return submit_stripe_refund(refund_id=refund_id).status
    except RETRYABLE:
        # Network or Stripe 5xx: the refund stays PENDING; retry_pending_refunds resends it
        # with the same idempotency key.
        return "retry_later"


@shared_task(name="billing.tasks.retry_pending_refunds")
def retry_pending_refunds() -> int:
    from billing.services.refunds import retry_pending_refunds as retry

    return retry()


@shared_task(name="billing.tasks.renew_manual_subscriptions")
def renew_manual_subscriptions() -> dict:
    from billing.services.invoices import renew_manual_subscriptions as renew

    return renew()


@shared_task(name="billing.tasks.sync_stripe_catalog")
def sync_stripe_catalog() -> dict:
    from billing import stripe_client, sync

    if not stripe_client.is_configured():
        return {"skipped": "stripe not configured"}
    return sync.sync_catalog().as_dict()


@shared_task(name="billing.tasks.reconcile_stripe")
def reconcile_stripe() -> dict:
    from billing import stripe_client, sync

    if not stripe_client.is_configured():
        return {"skipped": "stripe not configured"}
    return sync.reconcile().as_dict()
