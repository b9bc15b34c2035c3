"""The Stripe webhook inbox: record each event once, process it once, retry failures.

Delivery (``record_event``) only inserts; processing (``process_event``) runs later in a Celery
task and claims the row with a conditional UPDATE so two workers never handle it together.
"""

import json
import logging
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.models import WebhookEvent
from config import outbox

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A row left in "processing" longer than this belongs to a worker that died.
STUCK_AFTER = timedelta(minutes=10)


class InvalidEvent(ValueError):
    pass


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after the n-th failure, capped at 6 hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def _parse(body: bytes) -> dict:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent("The body is not JSON.") from exc
    if not isinstance(event, dict) or not str(event.get("id", "")).startswith("evt_"):
        raise InvalidEvent("The body is not a Stripe event.")
    if not event.get("type") or not isinstance(event.get("data"), dict):
        raise InvalidEvent("The event has no type or data.")
    return event


def record_event(*, body: bytes) -> tuple[WebhookEvent, bool]:
    """Insert the verified event keyed by its Stripe id; queue processing once, on commit.

    Returns ``(row, created)``. A duplicate delivery returns the existing row untouched.
    Raises InvalidEvent for a body that is not a Stripe event (nothing written).
    """
    event = _parse(body)
    obj = event["data"].get("object") or {}
    created_ts = event.get("created")
    defaults = {
        "type": event["type"],
        "livemode": bool(event.get("livemode")),
        "api_version": event.get("api_version") or "",
        "object_id": str(obj.get("id") or "")[:255],
        "payload": event,
        "event_created": (datetime.fromtimestamp(created_ts, tz=UTC)
                          if isinstance(created_ts, int) else None),
    }
    try:
        with transaction.atomic():
            row, created = WebhookEvent.objects.get_or_create(
                stripe_event_id=event["id"], defaults=defaults)
    except IntegrityError:
        # A concurrent delivery of the same event inserted first.
        return WebhookEvent.objects.get(stripe_event_id=event["id"]), False
    if created:
        from billing.tasks import process_webhook_event

        outbox.enqueue(process_webhook_event, row.pk)
    return row, created


def claim(event_id: int, *, now=None) -> bool:
    """Move a received/failed row to processing. Exactly one caller wins."""
    now = now or timezone.now()
    return bool(
        WebhookEvent.objects.filter(
            pk=event_id, status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED]
        ).update(status=WebhookEvent.Status.PROCESSING, attempts=F("attempts") + 1,
                 processing_started_at=now, next_attempt_at=None, updated_at=now)
    )


def process_event(*, event_id: int) -> str:
    """Claim and handle one inbox row. Safe to call twice: a second call finds nothing to claim.

    The handlers run in one transaction; on failure it rolls back and the error, attempt
    count and next retry time are written to the row (no retry after MAX_ATTEMPTS).
    Returns the row's final status, or "skipped" when another worker had it.
    """
    from billing.webhook_handlers import dispatch

    if not claim(event_id):
        return "skipped"
    event = WebhookEvent.objects.get(pk=event_id)
    try:
        with transaction.atomic():
            dispatch(event)
            WebhookEvent.objects.filter(pk=event_id).update(
                status=WebhookEvent.Status.PROCESSED, processed_at=timezone.now(),
                last_error="", updated_at=timezone.now())
        return WebhookEvent.Status.PROCESSED
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        logger.exception("Stripe event %s failed", event.stripe_event_id)
        retry = event.attempts < MAX_ATTEMPTS
        WebhookEvent.objects.filter(pk=event_id).update(
            status=WebhookEvent.Status.FAILED,
            last_error=f"{type(exc).__name__}: {exc}"[:4000],
            next_attempt_at=timezone.now() + backoff(event.attempts) if retry else None,
            updated_at=timezone.now(),
        )
        return WebhookEvent.Status.FAILED


def due_event_ids(*, now=None) -> list[int]:
    """Failed rows whose retry time has come, and rows stuck in processing (dead worker)."""
    now = now or timezone.now()
    stuck = WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSING,
                                        processing_started_at__lt=now - STUCK_AFTER,
                                        attempts__lt=MAX_ATTEMPTS)
    # Hand stuck rows back as failed so the normal claim picks them up.
    stuck.update(status=WebhookEvent.Status.FAILED, next_attempt_at=now,
                 last_error="Processing did not finish (worker lost); retried.")
    due = WebhookEvent.objects.filter(
        Q(status=WebhookEvent.Status.RECEIVED, received_at__lt=now - timedelta(minutes=1))
        | Q(status=WebhookEvent.Status.FAILED, next_attempt_at__lte=now),
    )
    return list(due.order_by("event_created", "id").values_list("id", flat=True)[:500])


def replay(*, event_ids, actor=None) -> int:
    """Staff replay: put events back in the queue whatever their state (handlers are
    idempotent), and process them after commit. Returns how many were queued."""
    from accounts import audit
    from accounts.models import AuditAction
    from billing.tasks import process_webhook_event

    ids = list(WebhookEvent.objects.filter(pk__in=event_ids)
               .exclude(status=WebhookEvent.Status.PROCESSING).values_list("id", flat=True))
    with transaction.atomic():
        WebhookEvent.objects.filter(pk__in=ids).update(
            status=WebhookEvent.Status.FAILED, next_attempt_at=timezone.now(),
            updated_at=timezone.now())
        for pk in ids:
            audit.record(actor=actor, action=AuditAction.OTHER,
                         resource_type="billing.WebhookEvent", resource_id=pk,
                         operation="webhook_replay")
            outbox.enqueue(process_webhook_event, pk)
    return len(ids)
