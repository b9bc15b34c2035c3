"""The Stripe webhook inbox: record each event once, process it once, retry failures.

Delivery (``record_event``) only inserts; processing (``process_event``) runs later in a Celery
task and claims the row with a conditional UPDATE so two workers never handle it together.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import authority
from billing.models import WebhookEvent
from billing.stripe.events import dispatch
from core import audit, outbox
from core.models import AuditAction
from core.outbox import services as outbox_services
from core.outbox.models import OutboxMessage

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import User

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A row left in "processing" longer than this belongs to a worker that died.
STUCK_AFTER = timedelta(minutes=10)
# The Celery task that processes one inbox row (billing.tasks), queued by name.
PROCESS_TASK = "billing.tasks.process_webhook_event"
# A \u0000 escape (not an escaped backslash followed by "u0000"): jsonb cannot store NUL.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class InvalidEvent(ValueError):
    pass


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after the n-th failure, capped at 6 hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def _refuse_constant(name: str) -> NoReturn:
    raise InvalidEvent(f"The body contains {name}, which is not JSON.")


def _parse(body: bytes) -> dict:
    try:
        # NaN and Infinity are Python's extensions to JSON; PostgreSQL's jsonb refuses them.
        event = json.loads(body, parse_constant=_refuse_constant)
    except InvalidEvent:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent("The body is not JSON.") from exc
    except RecursionError:
        raise InvalidEvent("The body is nested too deeply.") from None
    if not isinstance(event, dict) or not str(event.get("id", "")).startswith("evt_"):
        raise InvalidEvent("The body is not a Stripe event.")
    if not event.get("type") or not isinstance(event.get("data"), dict):
        raise InvalidEvent("The event has no type or data.")
    return event


class Recorded(NamedTuple):
    """What ``record_event`` did: the outbox row queuing the event's processing (None for a
    duplicate delivery) and whether the event was new."""

    message_id: int | None
    created: bool


# One statement: the event row and the outbox row that queues its processing are written
# together or not at all, in one round trip and one commit. A duplicate event id inserts
# nothing (ON CONFLICT DO NOTHING returns no row), so no outbox row is written either.
# The outbox row is written here rather than through ``outbox.enqueue`` for that reason;
# its columns are the ones ``enqueue`` would fill.
_RECORD_SQL = """
    WITH event AS (
        INSERT INTO {events} (stripe_event_id, type, livemode, api_version, object_id,
                              payload, event_created, status, attempts, last_error,
                              received_at, created_at, updated_at)
        VALUES (%(stripe_event_id)s, %(type)s, %(livemode)s, %(api_version)s, %(object_id)s,
                %(payload)s::jsonb, %(event_created)s, %(status)s, 0, '',
                %(now)s, %(now)s, %(now)s)
        ON CONFLICT (stripe_event_id) DO NOTHING
        RETURNING id
    )
    INSERT INTO {outbox} (task, args, kwargs, created_at, attempts, last_error)
    SELECT %(task)s, jsonb_build_array(event.id), '{{}}'::jsonb, %(now)s, 0, ''
    FROM event
    RETURNING id
"""


def record_event(*, body: bytes, publish: bool = True) -> Recorded:
    """Insert the verified event keyed by its Stripe id, with the outbox row that queues its
    processing, in one statement (so one transaction: both or neither).

    A duplicate delivery writes nothing and returns ``Recorded(None, False)``; concurrent
    deliveries of one event insert it once (the unique event id decides). With ``publish``
    the task is published after the commit, as ``outbox.enqueue`` does; without it the
    caller publishes ``message_id`` itself (the webhook view does, after its answer has
    gone out) or leaves it to the relay. Raises InvalidEvent for a body that is not a
    Stripe event (nothing written). Safe to call twice.
    """
    event = _parse(body)
    obj = event["data"].get("object") or {}
    created_ts = event.get("created")
    payload = json.dumps(event)
    if "\\u0000" in payload and _NUL_ESCAPE.search(payload):  # the regex only when needed
        raise InvalidEvent("The body contains a NUL character, which jsonb cannot store.")
    params: dict[str, str | bool | datetime | None] = {
        "stripe_event_id": str(event["id"])[:255],
        "type": str(event["type"])[:100],
        "livemode": bool(event.get("livemode")),
        "api_version": str(event.get("api_version") or "")[:64],
        "object_id": str(obj.get("id") or "")[:255] if isinstance(obj, dict) else "",
        "payload": payload,
        "event_created": (
            datetime.fromtimestamp(created_ts, tz=UTC) if isinstance(created_ts, int) else None
        ),
        "status": WebhookEvent.Status.RECEIVED,
        "now": timezone.now(),
        "task": PROCESS_TASK,
    }
    sql = _RECORD_SQL.format(
        events=WebhookEvent._meta.db_table, outbox=OutboxMessage._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return Recorded(None, False)
    message_id = row[0]
    if publish:
        transaction.on_commit(lambda: outbox_services.publish(message_id))
    return Recorded(message_id, True)


# Rows a worker may take. PROCESSING is included: while a worker handles a row it holds the
# row's lock, so an unlocked PROCESSING row is one whose worker died (or a row written by the
# earlier claim-then-process code); the lock, not the status, says who is working.
CLAIMABLE = (
    WebhookEvent.Status.RECEIVED,
    WebhookEvent.Status.FAILED,
    WebhookEvent.Status.PROCESSING,
)


def process_event(*, event_id: int) -> str:
    """Claim and handle one inbox row. Safe to call twice, and from several workers at once.

    The row is locked (SKIP LOCKED: a row another worker holds is "skipped") for the whole
    of one transaction: the attempt is counted, the handlers run in a savepoint, and the row
    ends PROCESSED, or FAILED with the error and the next retry time (no retry after
    MAX_ATTEMPTS) when a handler raises. A worker killed mid-way rolls back everything,
    attempt included, so the redelivered task processes the event at once.
    Returns the row's final status, or "skipped".
    """
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, status__in=CLAIMABLE)
            .first()
        )
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
        event.save(
            update_fields=[
                "status",
                "processing_started_at",
                "attempts",
                "next_attempt_at",
                "processed_at",
                "last_error",
                "updated_at",
            ]
        )
        return event.status


def due_event_ids(*, now: datetime | None = None) -> list[int]:
    """Failed rows whose retry time has come, and rows stuck in processing (dead worker)."""
    now = now or timezone.now()
    stuck = WebhookEvent.objects.filter(
        status=WebhookEvent.Status.PROCESSING,
        processing_started_at__lt=now - STUCK_AFTER,
        attempts__lt=MAX_ATTEMPTS,
    )
    # Hand stuck rows back as failed so the normal claim picks them up.
    stuck.update(
        status=WebhookEvent.Status.FAILED,
        next_attempt_at=now,
        last_error="Processing did not finish (worker lost); retried.",
    )
    due = WebhookEvent.objects.filter(
        Q(status=WebhookEvent.Status.RECEIVED, received_at__lt=now - timedelta(minutes=1))
        | Q(status=WebhookEvent.Status.FAILED, next_attempt_at__lte=now),
    )
    return list(due.order_by("event_created", "id").values_list("id", flat=True)[:500])


def replay(*, event_ids: Iterable[int], actor: User | None = None) -> int:
    """Staff replay: put events back in the queue whatever their state (handlers are
    idempotent), and process them after commit. Returns how many were queued. Raises
    NotAuthorized for staff whose role may not replay."""
    authority.require(actor, "billing.webhook.replay")
    ids = list(
        WebhookEvent.objects.filter(pk__in=event_ids)
        .exclude(status=WebhookEvent.Status.PROCESSING)
        .values_list("id", flat=True)
    )
    with transaction.atomic():
        WebhookEvent.objects.filter(pk__in=ids).update(
            status=WebhookEvent.Status.FAILED,
            next_attempt_at=timezone.now(),
            updated_at=timezone.now(),
        )
        for pk in ids:
            audit.record(
                actor=actor,
                action=AuditAction.OTHER,
                resource_type="billing.WebhookEvent",
                resource_id=pk,
                operation="webhook_replay",
            )
            outbox.enqueue("billing.tasks.process_webhook_event", pk)
    return len(ids)
