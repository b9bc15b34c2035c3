"""The Stripe webhook inbox: record each event once, process it once, retry failures.

Delivery (``record_event``) only inserts; processing (``process_event``) runs later in a Celery
task and claims the row with a conditional UPDATE so two workers never handle it together.
"""

import json
import logging
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import authority
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
    except RecursionError:
        raise InvalidEvent("The body is nested too deeply.") from None
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


# Rows a worker may take. PROCESSING is included: while a worker handles a row it holds the
# row's lock, so an unlocked PROCESSING row is one whose worker died (or a row written by the
# earlier claim-then-process code); the lock, not the status, says who is working.
CLAIMABLE = (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED,
             WebhookEvent.Status.PROCESSING)


def process_event(*, event_id: int) -> str:
    """Claim and handle one inbox row. Safe to call twice, and from several workers at once.

    The row is locked (SKIP LOCKED: a row another worker holds is "skipped") for the whole
    of one transaction: the attempt is counted, the handlers run in a savepoint, and the row
    ends PROCESSED, or FAILED with the error and the next retry time (no retry after
    MAX_ATTEMPTS) when a handler raises. A worker killed mid-way rolls back everything,
    attempt included, so the redelivered task processes the event at once.
    Returns the row's final status, or "skipped".
    """
    from billing.webhook_handlers import dispatch

    with transaction.atomic():
        event = (WebhookEvent.objects.select_for_update(skip_locked=True)
                 .filter(pk=event_id, status__in=CLAIMABLE).first())
        if event is None:
            return "skipped"
        now = timezone.now()
        event.status, event.processing_started_at = WebhookEvent.Status.PROCESSING, now
        event.attempts, event.next_attempt_at = event.attempts + 1, None
        try:
            with transaction.atomic():
                dispatch(event)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
            logger.exception("Stripe event %s failed", event.stripe_event_id)
            retry = event.attempts < MAX_ATTEMPTS
            event.status = WebhookEvent.Status.FAILED
            event.last_error = f"{type(exc).__name__}: {exc}"[:4000]
            event.next_attempt_at = timezone.now() + backoff(event.attempts) if retry else None
        else:
            event.status, event.processed_at = WebhookEvent.Status.PROCESSED, timezone.now()
            event.last_error = ""
        event.updated_at = timezone.now()
        event.save(update_fields=["status", "processing_started_at", "attempts",
                                  "next_attempt_at", "processed_at", "last_error",
                                  "updated_at"])
        return event.status


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
    idempotent), and process them after commit. Returns how many were queued. Raises
    NotAuthorized for staff whose role may not replay."""
    authority.require(actor, "billing.webhook.replay")
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
