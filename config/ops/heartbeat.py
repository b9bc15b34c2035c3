"""Worker heartbeats: each Celery worker writes "alive at T" to the shared cache every
``INTERVAL`` seconds from a thread of its own; /metrics and /ops/ read how old each one is.

Cheaper and quieter than ``celery inspect ping`` (a broadcast every worker must answer within
a timeout on every scrape), and it keeps telling something after a worker died: its last
beat grows old instead of vanishing. A worker that stops cleanly removes its own entry.
"""

import logging
import os
import threading
import time

from celery import bootsteps
from django.core.cache import cache

logger = logging.getLogger(__name__)

INTERVAL = 15  # seconds between beats
STALE_AFTER = 4 * INTERVAL  # the /ops/ page flags a worker silent for longer
KEEP = 24 * 60 * 60  # a dead worker's last beat stays visible this long
REGISTRY_KEY = "ops:workers"
BEAT_KEY = "ops:worker:"  # + hostname


def write_heartbeat(*, hostname: str, queues: list[str], now: float | None = None) -> None:
    """Record that ``hostname`` is alive now (and make sure the registry names it)."""
    cache.set(
        BEAT_KEY + hostname,
        {"at": time.time() if now is None else now, "pid": os.getpid(), "queues": queues},
        timeout=KEEP,
    )
    known = cache.get(REGISTRY_KEY) or []
    if hostname not in known:
        # Two workers starting together may each write the list without the other; each
        # one adds itself again on its next beat, so the registry heals within INTERVAL.
        cache.set(REGISTRY_KEY, sorted({*known, hostname}), timeout=None)


def forget(hostname: str) -> None:
    cache.delete(BEAT_KEY + hostname)
    known = cache.get(REGISTRY_KEY) or []
    if hostname in known:
        cache.set(REGISTRY_KEY, [name for name in known if name != hostname], timeout=None)


def heartbeats() -> dict[str, dict]:
    """hostname -> {"at", "pid", "queues"} for every worker seen in the last KEEP seconds."""
    known = cache.get(REGISTRY_KEY) or []
    found = cache.get_many([BEAT_KEY + name for name in known])
    return {name: found[BEAT_KEY + name] for name in known if BEAT_KEY + name in found}


class Heartbeat:
    """The thread that beats for one worker (a thread, so a slow cache never holds up the
    worker's own event loop)."""

    def __init__(self, *, hostname: str, queues: list[str], interval: float = INTERVAL):
        self.hostname, self.queues, self.interval = hostname, queues, interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ops-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                write_heartbeat(hostname=self.hostname, queues=self.queues)
            except Exception:  # a failed beat is the signal itself; the next one retries
                logger.warning("Worker heartbeat not written", exc_info=True)
            self._stopped.wait(self.interval)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            forget(self.hostname)
        except Exception:
            logger.warning("Worker heartbeat not removed", exc_info=True)


class HeartbeatStep(bootsteps.StartStopStep):
    """Added to every worker in config.celery."""

    def create(self, worker):
        queues = sorted(worker.app.amqp.queues.consume_from or worker.app.amqp.queues)
        return Heartbeat(hostname=worker.hostname, queues=queues)
