"""Publishing from a web process without holding up its requests.

A sync web worker that publishes a task after answering still does that work before it takes
its next request: the claim, the broker call and the mark cost several times the request
itself. ``publish_soon`` instead hands the committed row's id to a daemon thread of the process,
which publishes whatever has gathered in one claim and one mark (``services.publish_many``).
A row the thread never reaches (the process stopped, the broker is down, the queue is full) is
committed and unpublished, so the relay publishes it; delivery stays at least once.

Under eager settings (tests, a development shell) there is no broker and the task runs where it
is published, so the row is published at once in the caller's thread, as ``publish`` does.
"""

import atexit
import logging
import os
import queue
import threading
import time

from celery import current_app
from django.db import connection

from core.outbox import services

logger = logging.getLogger(__name__)

# Ids waiting for the thread beyond this are left to the relay rather than held in memory.
MAX_WAITING = 10_000
# Rows published together at most: one claim and one mark for all of them.
BATCH = 100
# Seconds a process stopping gracefully waits for its publisher to finish.
EXIT_WAIT = 5.0
# Seconds without work after which the thread closes its database connection.
IDLE_CLOSE = 1.0


class BackgroundPublisher:
    """One per process; its thread starts on first use, again in a forked child."""

    def __init__(self) -> None:
        self._queue: queue.Queue[int] = queue.Queue(maxsize=MAX_WAITING)
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._start_lock = threading.Lock()

    def submit(self, message_id: int) -> None:
        if current_app.conf.task_always_eager:
            services.publish(message_id)
            return
        self._ensure_running()
        try:
            self._queue.put_nowait(message_id)
        except queue.Full:
            logger.warning("Outbox publisher queue full: message %s left to the relay", message_id)

    def _ensure_running(self) -> None:
        pid = os.getpid()
        if self._pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._pid == pid and self._thread is not None and self._thread.is_alive():
                return
            if self._pid != pid:  # a forked child inherits the parent's queue, not its thread
                self._queue = queue.Queue(maxsize=MAX_WAITING)
                # A graceful stop (a deploy) publishes what is waiting rather than leaving it
                # to the relay; a process killed outright leaves it to the relay.
                atexit.register(self.wait_idle, EXIT_WAIT)
            self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
            self._pid = pid
            self._thread.start()

    def _take_batch(self) -> list[int]:
        try:
            first = self._queue.get(timeout=IDLE_CLOSE)
        except queue.Empty:
            # Idle: give the database connection back rather than hold it between bursts
            # (a held session would also block DROP or CREATE DATABASE ... TEMPLATE).
            connection.close()
            first = self._queue.get()
        ids = [first]
        while len(ids) < BATCH:
            try:
                ids.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return ids

    def _run(self) -> None:
        while True:
            ids = self._take_batch()
            try:
                services.publish_many(ids)
            except Exception:  # noqa: BLE001 - the rows are committed; the relay publishes them
                logger.exception("Outbox publisher failed on %s message(s)", len(ids))
                connection.close()  # a broken connection is opened again on the next batch
            finally:
                for _ in ids:
                    self._queue.task_done()

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every id submitted so far has been handled
        (tests, shutdown); True if it was."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True


_publisher = BackgroundPublisher()


def publish_soon(message_id: int) -> None:
    """Publish a committed outbox row from this process's publisher thread; returns at once."""
    _publisher.submit(message_id)


def wait_idle(timeout: float = 10.0) -> bool:
    return _publisher.wait_idle(timeout)
