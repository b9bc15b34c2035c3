"""A Redis cache that a Redis outage turns into misses instead of 500s.

Nothing here keeps state that only the cache holds (system settings are read from the database
on a miss), so while Redis is away every read is a miss and every write is dropped; requests
go on, a little slower. After a connection error the cache stops calling Redis for
``RETRY_AFTER`` seconds, so a request does not wait on a dead server once per cache call.
"""

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

logger = logging.getLogger(__name__)

OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError)
RETRY_AFTER = 5.0  # seconds without Redis calls after a connection error

# One more request in each window (KEYS[i], opening with its first request and lasting ARGV[i]
# ms): for each, the new count and the milliseconds the window has left. A script runs
# atomically, so a window's expiry is set exactly once, whichever worker opens it.
COUNT_IN_WINDOWS = """
local answer = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    local left = redis.call('PTTL', key)
    if left < 0 then
        redis.call('PEXPIRE', key, ARGV[i])
        left = tonumber(ARGV[i])
    end
    answer[2 * i - 1] = count
    answer[2 * i] = left
end
return answer
"""


class KeptClients(RedisCacheClient):
    """Django's Redis cache client, keeping one ``redis.Redis`` per connection pool: Django
    builds a new one, on the same pool, for every cache call, which cost a ``get`` half its
    time (a Redis client is thread-safe: each command takes a connection from the pool)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's client keeps its servers and pools in attributes its stubs do not declare.
        django_client: Any = self
        index = django_client._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pools = django_client._pools
            if index not in pools:
                pools[index] = django_client._pool_class.from_url(
                    django_client._servers[index], **django_client._pool_options
                )
            client = self._clients[index] = django_client._client(connection_pool=pools[index])
        return client


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
        self._class = KeptClients
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._count_script: Any = None  # COUNT_IN_WINDOWS, registered on first use

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

    def count_in_windows(self, windows: list[tuple[str, int]]) -> list[tuple[int, float]] | None:
        """Count one more request under each ``(key, period)``, in a window of ``period``
        seconds that opens with its first request: ``(count, seconds the window has left)``
        for each, all in one round trip (a script Redis keeps; Django's ``add``, ``get`` and
        ``incr`` would take four or five per key). None while Redis is unavailable."""
        keys = [self.make_and_validate_key(key) for key, _period in windows]

        def call() -> list[tuple[int, float]]:
            if self._count_script is None:
                # Sent by its digest (EVALSHA), in full once if the server lacks it.
                django_cache: Any = self  # ``_cache``: Django's client, undeclared in its stubs
                client = django_cache._cache.get_client(keys[0], write=True)
                self._count_script = client.register_script(COUNT_IN_WINDOWS)
            answer = self._count_script(keys=keys, args=[period * 1000 for _, period in windows])
            return [(int(answer[i]), answer[i + 1] / 1000) for i in range(0, len(answer), 2)]

        return self._guard("count_in_windows", call, None)

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
