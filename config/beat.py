"""Celery beat with a leader lease, so that two beats (on two hosts, for failover) send each
scheduled task once.

django-celery-beat's DatabaseScheduler keeps the schedule in PostgreSQL but knows nothing of
another beat: two of them would both send every task when it falls due. This one sends only
while it holds a lease in Redis, the broker every beat must reach to send anything. The other
beats stand by and try for the lease every few seconds. When the leader stops, it saves its
schedule and gives the lease back, and a standby takes over at its next try; when the leader
dies, the lease expires after ``LEASE_SECONDS``. The new leader reads the schedule and the
last run of each task from the database, which the leader updates after every task it sends.

A task can still be sent twice when a leader dies between sending it and saving its last run
(at most one tick): periodic tasks are safe to run twice (STYLE: tasks are idempotent).

Without Redis (the file broker of ``make run``) there is one machine and one beat: no lease.
"""

import contextlib
import logging
import os
import socket

import redis
from django_celery_beat.schedulers import DatabaseScheduler
from redis.exceptions import LockError, RedisError

logger = logging.getLogger(__name__)

LOCK_NAME = "billing:beat:leader"
# Longer than a tick (at most beat_max_loop_interval, 5 s), with room for a slow database.
LEASE_SECONDS = 30
STANDBY_POLL_SECONDS = 2


class LeaderScheduler(DatabaseScheduler):
    """``celery -A config beat -S config.beat:LeaderScheduler``: the settings' default."""

    def __init__(self, *args, **kwargs):
        self._lease = None
        self._leading = False
        super().__init__(*args, **kwargs)
        # Save an entry's last run right after sending it (the default waits up to 3 min), so a
        # successor does not send it again.
        self.sync_every_tasks = 1
        url = self.app.conf.broker_url or ""
        if url.startswith(("redis://", "rediss://", "unix://")):
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
            self._lease = client.lock(
                LOCK_NAME, timeout=LEASE_SECONDS, blocking=False, thread_local=False
            )
        else:
            logger.info(
                "beat: the broker is not Redis, so there is no leader lease: run only one beat"
            )
        self._name = f"{socket.gethostname()}:{os.getpid()}"

    def tick(self, *args, **kwargs):
        if not self._lead():
            return STANDBY_POLL_SECONDS
        return super().tick(*args, **kwargs)

    def _lead(self) -> bool:
        if self._lease is None:
            return True
        try:
            if self._leading:
                self._lease.reacquire()  # LEASE_SECONDS from now, if it is still ours
            elif self._lease.acquire(blocking=False):
                logger.info("beat %s: leading (lease of %s s)", self._name, LEASE_SECONDS)
                self._leading = True
                # Read the schedule and each task's last run again: the previous leader moved on.
                self._initial_read = True
                self._heap = None
        except LockError:  # LockNotOwnedError included: it expired while we were stuck
            logger.warning("beat %s: lost the lease; standing by", self._name)
            self._step_down()
        except RedisError as exc:
            logger.warning("beat %s: Redis does not answer (%s); standing by", self._name, exc)
            self._step_down()
        return self._leading

    def _step_down(self) -> None:
        if self._leading:
            self._leading = False
            self.sync()

    def close(self):
        super().close()  # saves the last runs first, for the successor
        if self._lease is not None and self._leading:
            self._leading = False
            with contextlib.suppress(LockError, RedisError):
                self._lease.release()
            logger.info("beat %s: lease released", self._name)
