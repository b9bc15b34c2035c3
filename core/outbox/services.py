"""Write a task to the outbox with the change that causes it; publish it after the commit.

``enqueue`` inserts the row in the caller's transaction, so the task exists if and only if the
change committed. After the commit the same process tries to publish it once, with no retry
loop, so a broker outage costs a request a few milliseconds and not a failure. Whatever could
not be published is left for ``relay``. Delivery is at least once (a process may die between
the publish and the write that records it); tasks queued here must be safe to run twice.
"""

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from celery import Task, current_app, current_task
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from core.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)
Fn = TypeVar("Fn", bound=Callable[..., Any])

# How long a process may hold a row while publishing it. A process that dies holding it only
# delays that row until the lease ends; the relay skips rows under a live lease.
CLAIM_FOR = timedelta(minutes=5)
RELAY_BATCH = 200
KEEP_PUBLISHED = timedelta(days=7)
PRUNE_BATCH = 5000
# After the broker refused a publish, requests of this process leave their rows to the relay
# for this long instead of each waiting on a dead broker (up to its connect timeout).
SKIP_AFTER_FAILURE = 5.0
_skip_until = 0.0


class UnknownTask(LookupError):
    """The row names a task this code base no longer has (renamed or removed)."""


def enqueue(task: str, *args: Any, **kwargs: Any) -> OutboxMessage:
    """Queue the task registered under the name ``task`` (``"credits.tasks.expire_credits"``)
    to run with ``*args, **kwargs`` after the current transaction commits (at once outside a
    transaction). Arguments must be JSON values (ids, strings). Nothing is queued for a
    transaction that rolls back. A name Celery does not know raises ``UnknownTask`` here, in
    the caller, rather than in the relay later."""
    if not isinstance(task, str):
        raise TypeError("outbox.enqueue takes the task's registered name, not the task object")
    _task(task)
    row = OutboxMessage.objects.create(task=task, args=list(args), kwargs=kwargs)
    transaction.on_commit(lambda: publish(row.pk))
    return row


@contextlib.contextmanager
def _marks() -> Iterator[None]:
    """A transaction for the outbox's own marks on a row (claimed, published, failed) whose
    commit does not wait for the disk. The marks only decide whether a row may be sent again,
    and sending again is allowed (delivery is at least once): a crash that loses a mark costs
    a duplicate at worst, never a task, whose row was committed durably with the change that
    queued it. It spares each publish two disk flushes, which a request that publishes after
    answering (the Stripe webhook) would otherwise wait for. Inside a caller's transaction it
    is that transaction, unchanged."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def _claimable(now: datetime) -> Q:
    return Q(published_at__isnull=True) & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def publish(message_id: int) -> bool:
    """Publish one row now if nobody else is: claim it with a conditional UPDATE, send it,
    record the outcome. Returns True when it reached the broker."""
    return publish_many([message_id]) == 1


_CLAIM_SQL = """
    UPDATE {table} SET claimed_until = %(until)s
    WHERE id = ANY(%(ids)s) AND published_at IS NULL
      AND (claimed_until IS NULL OR claimed_until < %(now)s)
    RETURNING *
"""


def publish_many(message_ids: Iterable[int]) -> int:
    """Publish those of these rows that nobody else is publishing: one UPDATE claims them
    (returning the rows), each goes to the broker, one UPDATE marks those sent. Stops at a
    broker failure and gives the rest back for the relay. Returns how many reached the
    broker."""
    global _skip_until
    ids = sorted(set(message_ids))
    if not ids or time.monotonic() < _skip_until:
        return 0
    now = timezone.now()
    with _marks():
        rows = sorted(
            OutboxMessage.objects.raw(
                _CLAIM_SQL.format(table=OutboxMessage._meta.db_table),
                {"until": now + CLAIM_FOR, "ids": ids, "now": now},
            ),
            key=lambda row: row.pk,
        )
    sent = []
    for index, row in enumerate(rows):
        outcome = _deliver(row)
        if outcome == PUBLISHED:
            sent.append(row.pk)
        elif outcome == BROKER_DOWN:
            _skip_until = time.monotonic() + SKIP_AFTER_FAILURE
            _release([later.pk for later in rows[index + 1 :]])
            break
    _mark_published(sent)
    return len(sent)


def _task(name: str) -> Task:
    # The project's Celery app, which config makes the default of every thread; core does not
    # import it (it lives above core and loads every app's tasks).
    app = current_app
    task: Task | None = app.tasks.get(name)
    if task is None:
        # A process that never imported the module (the relay command): load every app's tasks.
        app.loader.import_default_modules()
        task = app.tasks.get(name)
    if task is None:
        raise UnknownTask(f"No task named {name!r} is registered")
    return task


PUBLISHED, BROKER_DOWN, BROKEN = "published", "broker_down", "broken"


def _send(row: OutboxMessage) -> str:
    """Publish a row this process has claimed and record the outcome on it (see _deliver)."""
    outcome = _deliver(row)
    if outcome == PUBLISHED:
        _mark_published([row.pk])
    return outcome


def _deliver(row: OutboxMessage) -> str:
    """Hand a claimed row to the broker; returns PUBLISHED, BROKER_DOWN or BROKEN (the row
    names an unknown task). Failures are recorded on the row, which is released for the relay;
    a success is for the caller to mark. Under eager settings (tests) the task runs here, and
    its own errors propagate as they would from ``.delay()``."""
    try:
        task = _task(row.task)
    except UnknownTask as exc:
        return _not_sent(row, exc, BROKEN)
    if task.app.conf.task_always_eager:
        task.apply_async(args=row.args, kwargs=row.kwargs, task_id=row.task_id)
    else:
        try:
            # retry=False: one attempt (see CELERY_BROKER_TRANSPORT_OPTIONS); the relay retries.
            task.apply_async(args=row.args, kwargs=row.kwargs, task_id=row.task_id, retry=False)
        except (OperationalError, OSError) as exc:
            return _not_sent(row, exc, BROKER_DOWN)
    return PUBLISHED


def _mark_published(ids: list[int]) -> None:
    if ids:
        with _marks():
            OutboxMessage.objects.filter(pk__in=ids).update(
                published_at=timezone.now(),
                claimed_until=None,
                attempts=F("attempts") + 1,
                last_error="",
            )


def _release(ids: list[int]) -> None:
    if ids:
        with _marks():
            OutboxMessage.objects.filter(pk__in=ids).update(claimed_until=None)


def _not_sent(row: OutboxMessage, exc: Exception, outcome: str) -> str:
    with _marks():
        OutboxMessage.objects.filter(pk=row.pk).update(
            claimed_until=None,
            attempts=F("attempts") + 1,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
    logger.warning("Outbox message %s (%s) not published: %s", row.pk, row.task, exc)
    return outcome


def relay(*, limit: int = RELAY_BATCH) -> dict[str, int]:
    """Publish up to ``limit`` unpublished rows, oldest first. Rows are claimed under
    ``SELECT ... FOR UPDATE SKIP LOCKED`` (two relays never take the same row) and published
    after that short transaction, so no lock is held during a network call. Stops at the
    first broker error and releases the rest of the batch. Safe to run concurrently."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(_claimable(now))
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        OutboxMessage.objects.filter(pk__in=ids).update(claimed_until=now + CLAIM_FOR)
    published = failed = 0
    for index, row in enumerate(OutboxMessage.objects.filter(pk__in=ids).order_by("id")):
        outcome = _send(row)
        if outcome == PUBLISHED:
            published += 1
            continue
        failed += 1
        if outcome == BROKER_DOWN:
            # The rest would fail the same way: give them back at once rather than at lease end.
            OutboxMessage.objects.filter(pk__in=ids[index + 1 :]).update(claimed_until=None)
            break
    return {
        "published": published,
        "failed": failed,
        "pending": OutboxMessage.objects.filter(published_at__isnull=True).count(),
    }


def prune(*, now: datetime | None = None, keep: timedelta = KEEP_PUBLISHED) -> int:
    """Delete rows published more than ``keep`` ago (a bounded batch per call)."""
    cutoff = (now or timezone.now()) - keep
    ids = list(
        OutboxMessage.objects.filter(published_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:PRUNE_BATCH]
    )
    deleted, _ = OutboxMessage.objects.filter(pk__in=ids).delete()
    return deleted


def _message_pk(task_id: str | None) -> int | None:
    if not task_id or not task_id.startswith("outbox-"):
        return None
    rest = task_id.removeprefix("outbox-")
    return int(rest) if rest.isdigit() else None


def effect_once(fn: Fn) -> Fn:
    """For tasks whose effect cannot be taken back (an e-mail): run at most once per outbox
    message. Delivery is at least once, so a copy of a message can arrive after the first one
    finished; the first run marks the row ``completed_at`` and later copies return None.
    A run that dies before marking the row is run again (the e-mail may then go twice: never
    lost, rarely repeated). Calls that do not come from the outbox run as before.
    Put it under ``@shared_task``."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        request = getattr(current_task, "request", None)
        pk = _message_pk(getattr(request, "id", None))
        if pk is None:
            return fn(*args, **kwargs)
        if OutboxMessage.objects.filter(pk=pk, completed_at__isnull=False).exists():
            logger.info("Outbox message %s already carried out; this copy does nothing", pk)
            return None
        result = fn(*args, **kwargs)
        OutboxMessage.objects.filter(pk=pk).update(completed_at=timezone.now())
        return result

    return cast(Fn, run)
