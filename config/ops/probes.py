"""Reads of the machinery's state for /metrics and /ops/: each one cheap, each one alone.

``snapshot()`` runs every probe and keeps going when one fails (its error is reported in
place of its value): a monitoring page that breaks when the broker is down would hide the one
thing worth seeing. Ages are in seconds at the moment of the snapshot.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from kombu import Connection
from kombu.exceptions import ChannelError

from billing.models import WebhookEvent
from config.celery import app
from config.ops import heartbeat
from config.paths import DATA_DIR
from config.throttling import throttled_counts
from core.outbox.models import OutboxMessage
from credits.selectors import last_invariant_check

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 2  # seconds: a scrape must answer even when the broker does not


class _DeclaringChannel(Protocol):
    def queue_declare(self, queue: str, passive: bool) -> Any: ...


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


# --- Celery queues ---------------------------------------------------------------------------


def celery_queue_names() -> list[str]:
    """The default queue and every queue the configuration names (queues, routes)."""

    names = {app.conf.task_default_queue or "celery"}
    names.update(queue.name for queue in (app.conf.task_queues or []))
    routes = app.conf.task_routes
    if isinstance(routes, dict):
        names.update(
            route["queue"]
            for route in routes.values()
            if isinstance(route, dict) and route.get("queue")
        )
    return sorted(names)


def queue_depths() -> dict[str, int]:
    """Messages waiting per Celery queue, asked of the broker (Redis list lengths, priority
    lists included; files in the local broker's folder). A queue nobody used yet is 0."""

    depths = {}
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        connect_timeout=BROKER_TIMEOUT,
    ) as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
        channel = connection.default_channel
        for name in celery_queue_names():
            # kombu's virtual transports (Redis, filesystem, memory) answer a queue's size
            # through _size, their documented hook; it reads 0 for a queue with no key yet,
            # where a passive declare would raise.
            if hasattr(channel, "_size"):
                depths[name] = channel._size(name)
                continue
            try:
                declaring = cast(_DeclaringChannel, channel)  # AMQP channels declare queues
                depths[name] = declaring.queue_declare(queue=name, passive=True).message_count
            except ChannelError:
                depths[name] = 0
    return depths


# --- the database's queues: outbox and webhook inbox -----------------------------------------


def outbox_backlog(now: datetime) -> dict:
    """Tasks written to the outbox and not yet published: how many, and the oldest's age."""

    row = OutboxMessage.objects.filter(published_at__isnull=True).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    return {"count": row["count"], "oldest_age": _age(row["oldest"], now)}


WEBHOOK_WATCHED = ("received", "processing", "failed")  # billing.WebhookEvent.Status


def webhook_backlog(now: datetime) -> dict[str, dict]:
    """Stripe events not processed yet (received, processing) and failed ones: per status,
    how many and the oldest's age (from when it was received)."""

    rows = (
        WebhookEvent.objects.filter(status__in=WEBHOOK_WATCHED)
        .order_by()
        .values("status")
        .annotate(count=Count("id"), oldest=Min("received_at"))
    )
    found = {row["status"]: row for row in rows}
    return {
        status: {
            "count": found[status]["count"] if status in found else 0,
            "oldest_age": _age(found[status]["oldest"], now) if status in found else None,
        }
        for status in WEBHOOK_WATCHED
    }


# --- beat, workers, the ledger check, backups --------------------------------------------------


def beat_schedules(now: datetime) -> list[dict]:
    """Every periodic task: enabled or not, when beat last ran it (None: never)."""

    rows = PeriodicTask.objects.order_by("name").values(
        "name", "task", "enabled", "last_run_at", "total_run_count"
    )
    return [{**row, "age": _age(row["last_run_at"], now)} for row in rows]


def workers(now: datetime) -> list[dict]:
    """Every worker that beat in the last day (config.ops.heartbeat), with its beat's age."""
    found = []
    for hostname, beat in sorted(heartbeat.heartbeats().items()):
        age = max(0.0, now.timestamp() - beat["at"])
        found.append(
            {
                "hostname": hostname,
                "at": beat["at"],
                "age": age,
                "queues": beat.get("queues", []),
                "pid": beat.get("pid"),
                "stale": age > heartbeat.STALE_AFTER,
            }
        )
    return found


def credits_invariant(now: datetime) -> dict | None:
    """The latest ledger check (credits.tasks.check_invariant); None if it never ran."""

    check = last_invariant_check()
    if check is None:
        return None
    return {
        "at": check.created_at,
        "age": _age(check.created_at, now),
        "violations": check.violations,
        "sample": check.sample,
    }


BACKUP_MANIFESTS = "*.manifest.json"


def backup_dir() -> Path:
    return Path(getattr(settings, "BACKUP_DIR", DATA_DIR / "backups"))


def last_backup(now: datetime) -> dict | None:
    """The newest backup's manifest in BACKUP_DIR (by modification time); None if none."""
    folder = backup_dir()
    if not folder.is_dir():
        return None
    manifests = [(path.stat().st_mtime, path) for path in folder.glob(BACKUP_MANIFESTS)]
    if not manifests:
        return None
    mtime, path = max(manifests)
    return {"name": path.name, "at": mtime, "age": max(0.0, now.timestamp() - mtime)}


def throttled() -> dict[str, int]:

    return throttled_counts()


# --- all of it -------------------------------------------------------------------------------


@dataclass
class Snapshot:
    taken_at: datetime
    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    durations: dict = field(default_factory=dict)

    def __getitem__(self, name):
        return self.values.get(name)


def _probes(now: datetime) -> dict:
    return {
        "queues": queue_depths,
        "outbox": lambda: outbox_backlog(now),
        "webhooks": lambda: webhook_backlog(now),
        "beat": lambda: beat_schedules(now),
        "workers": lambda: workers(now),
        "credits_invariant": lambda: credits_invariant(now),
        "backup": lambda: last_backup(now),
        "throttled": throttled,
    }


def snapshot() -> Snapshot:
    now = timezone.now()
    taken = Snapshot(taken_at=now)
    for name, probe in _probes(now).items():
        started = time.perf_counter()
        try:
            taken.values[name] = probe()
        except Exception as exc:  # one broken source must not hide the others
            logger.warning("ops probe %s failed: %s: %s", name, type(exc).__name__, exc)
            taken.errors[name] = f"{type(exc).__name__}: {exc}"[:300]
        taken.durations[name] = time.perf_counter() - started
    return taken
