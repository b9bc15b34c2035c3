"""A Redis cache that a Redis outage turns into misses instead of 500s.

Nothing here keeps state that only the cache holds (system settings are read from the database
on a miss), so while Redis is away every read is a miss and every write is dropped; requests
go on, a little slower. After a connection error the cache stops calling Redis for
``RETRY_AFTER`` seconds, so a request does not wait on a dead server once per cache call.
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

logger = logging.getLogger(__name__)

OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError)
RETRY_AFTER = 5.0  # seconds without Redis calls after a connection error


class ResilientRedisCache(RedisCache):
    """Django's RedisCache; on a connection or timeout error it logs a warning and answers as
    a miss (``get`` → default, ``add``/``touch``/``has_key`` → False, writes do nothing).
    Other Redis errors (a bad command, a wrong type) still raise: they are bugs."""

    def __init__(self, server, params):
        options = {
            # One quick attempt: a cache miss costs one database read, a retry loop costs the
            # request seconds. redis-py's default retries three times with backoff. The
            # settings pass CACHE_SOCKET_TIMEOUT and CACHE_SOCKET_CONNECT_TIMEOUT in OPTIONS;
            # without a timeout a hung Redis would hold the request forever.
            "socket_connect_timeout": 1,
            "socket_timeout": 1,
            "retry": Retry(NoBackoff(), 0),
            **params.get("OPTIONS", {}),
        }
        super().__init__(server, {**params, "OPTIONS": options})
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _guard(self, operation: str, call, fallback):
        if time.monotonic() < self._down_until:
            return fallback
        try:
            return call()
        except OUTAGE_ERRORS as exc:
            with self._lock:
                self._down_until = time.monotonic() + RETRY_AFTER
            logger.warning(
                "Cache %s failed, Redis unavailable (%s: %s); answering as a miss for %.0f s",
                operation,
                type(exc).__name__,
                exc,
                RETRY_AFTER,
            )
            return fallback

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(
            "add", lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False
        )

    def get(self, key, default=None, version=None):
        return self._guard(
            "get", lambda: super(ResilientRedisCache, self).get(key, default, version), default
        )

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(
            "set", lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(
            "touch", lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False
        )

    def delete(self, key, version=None):
        return self._guard(
            "delete", lambda: super(ResilientRedisCache, self).delete(key, version), False
        )

    def get_many(self, keys, version=None):
        return self._guard(
            "get_many", lambda: super(ResilientRedisCache, self).get_many(keys, version), {}
        )

    def has_key(self, key, version=None):
        return self._guard(
            "has_key", lambda: super(ResilientRedisCache, self).has_key(key, version), False
        )

    def incr(self, key, delta=1, version=None):
        missing = object()
        value = self._guard(
            "incr", lambda: super(ResilientRedisCache, self).incr(key, delta, version), missing
        )
        if value is missing:
            raise ValueError(f"Key '{key}' not found (the cache is unavailable)")
        return value

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Django's contract: the keys that could not be stored.
        return self._guard(
            "set_many",
            lambda: super(ResilientRedisCache, self).set_many(data, timeout, version),
            list(data),
        )

    def delete_many(self, keys, version=None):
        return self._guard(
            "delete_many", lambda: super(ResilientRedisCache, self).delete_many(keys, version), None
        )

    def clear(self):
        return self._guard("clear", lambda: super(ResilientRedisCache, self).clear(), False)
