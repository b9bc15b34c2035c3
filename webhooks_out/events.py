"""The events the business's endpoints can listen to, and ``emit``, which records one.

``emit`` runs inside the transaction of the change it reports: the event, its deliveries
and the outbox row that sends them commit with the change or not at all."""

import uuid

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import outbox
from webhooks_out.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

EVENT_TYPES = {
    "order.paid": "An order was paid in full",
    "subscription.created": "A subscription was created",
    "subscription.updated": "A subscription's status, plan or period changed",
    "subscription.canceled": "A subscription ended",
    "invoice.paid": "A subscription invoice was paid",
    "invoice.payment_failed": "A subscription payment failed",
    "payment.refunded": "A refund went through",
    "credits.low": "A customer's credit balance fell below the threshold",
    "credits.consumed": "Credits a customer consumed, by operation (batched)",
    "ticket.created": "A customer opened a support ticket",
    "ticket.replied": "Support replied on a ticket",
}
TEST_EVENT = "endpoint.test"


def choices() -> list[tuple[str, str]]:
    return [(name, f"{name}: {label}") for name, label in EVENT_TYPES.items()]


def emit(event_type: str, payload: dict, *, dedupe_key: str | None = None, endpoints=None):
    """Record ``event_type`` with ``payload`` and a delivery for every active endpoint that
    listens to it (or for ``endpoints``). Returns the event, or None when no endpoint listens
    or ``dedupe_key`` was already emitted. Call inside the change's transaction."""

    if endpoints is None:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"Unknown webhook event type {event_type!r}")
        endpoints = WebhookEndpoint.objects.filter(active=True, event_types__contains=[event_type])
    endpoint_ids = (
        list(endpoints.order_by("pk").values_list("pk", flat=True))
        if hasattr(endpoints, "values_list")
        else [e.pk for e in endpoints]
    )
    if not endpoint_ids:
        return None
    now = timezone.now()
    with transaction.atomic():
        if dedupe_key and WebhookEvent.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        try:
            with transaction.atomic():
                event = WebhookEvent.objects.create(
                    public_id=f"evt_{uuid.uuid4().hex}",
                    type=event_type,
                    payload=payload,
                    dedupe_key=dedupe_key,
                    created_at=now,
                )
        except IntegrityError:
            return None  # the same change was reported by a concurrent transaction
        for endpoint_id in endpoint_ids:
            WebhookDelivery.objects.create(
                endpoint_id=endpoint_id,
                event=event,
                sequence=next_sequence(endpoint_id),
                next_attempt_at=now,
            )
        schedule(endpoint_ids)
    return event


def next_sequence(endpoint_id: int) -> int:
    """The endpoint's next sequence number. The row lock this takes is held to the commit,
    so an endpoint's numbers follow the order its transactions commit in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE webhooks_out_webhookendpoint SET last_sequence = "
            "last_sequence + 1 WHERE id = %s RETURNING last_sequence",
            [endpoint_id],
        )
        return cursor.fetchone()[0]


def schedule(endpoint_ids) -> None:
    """Queue the sending of these endpoints' pending deliveries after the commit."""

    for endpoint_id in endpoint_ids:
        outbox.enqueue("webhooks_out.tasks.deliver_endpoint", endpoint_id)
