"""Redis connections of the broker and the cache carry socket timeouts from the environment:
read back from the live connections production settings open, and felt against a server that
accepts connections and never answers."""

import contextlib
import json
import socket
import threading

import pytest

from config.tests.test_production_settings import production

TIMEOUTS = {
    "REDIS_SOCKET_TIMEOUT": "3.5",
    "REDIS_SOCKET_CONNECT_TIMEOUT": "2.5",
    "CACHE_SOCKET_TIMEOUT": "0.75",
    "CACHE_SOCKET_CONNECT_TIMEOUT": "0.5",
}

READ_BACK = """
import json
import django
django.setup()
from django.core.cache import cache
from config.celery import app

def timeouts(connection):
    connection.connect()
    return {"socket_timeout": connection.socket_timeout,
            "socket_connect_timeout": connection.socket_connect_timeout,
            "live_socket_timeout": connection._sock.gettimeout()}

cache.set("timeout-probe", 1)
pool = cache._cache._get_connection_pool(write=True)
cache_connection = pool.get_connection()
try:
    found = {"cache": timeouts(cache_connection)}
finally:
    pool.release(cache_connection)
with app.connection_for_write() as broker:
    broker_pool = broker.default_channel.client.connection_pool
    broker_connection = broker_pool.get_connection()
    try:
        found["broker"] = timeouts(broker_connection)
    finally:
        broker_pool.release(broker_connection)
print(json.dumps(found))
"""


@pytest.mark.redis
def test_broker_and_cache_connections_use_the_configured_socket_timeouts(redis_url):
    result = production(
        READ_BACK,
        DATABASE_URL="postgresql://app:secret@127.0.0.1:1/billing",
        REDIS_URL=redis_url,
        **TIMEOUTS,
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {
        "cache": {
            "socket_timeout": 0.75,
            "socket_connect_timeout": 0.5,
            "live_socket_timeout": 0.75,
        },
        "broker": {
            "socket_timeout": 3.5,
            "socket_connect_timeout": 2.5,
            "live_socket_timeout": 3.5,
        },
    }


@pytest.fixture
def silent_redis():
    """A server that accepts connections and never answers (a hung Redis)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


GIVE_UP = """
import json, time
import django
django.setup()
from django.core.cache import cache
from config.celery import app

started = time.monotonic()
answer = cache.get("anything", "a miss")
cache_seconds = time.monotonic() - started

started = time.monotonic()
try:
    app.send_task("config.outbox.tasks.relay_outbox", retry=False)
    outcome = "published"
except Exception as exc:
    outcome = type(exc).__name__
print(json.dumps({"cache": [answer, cache_seconds],
                  "broker": [outcome, time.monotonic() - started]}))
"""


def test_a_hung_redis_costs_a_cache_read_and_a_publish_only_their_timeouts(silent_redis):
    result = production(
        GIVE_UP,
        DATABASE_URL="postgresql://app:secret@127.0.0.1:1/billing",
        REDIS_URL=silent_redis,
        REDIS_SOCKET_TIMEOUT="1",
        CACHE_SOCKET_TIMEOUT="0.5",
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    answer, cache_seconds = found["cache"]
    assert answer == "a miss" and 0.5 <= cache_seconds < 3
    outcome, broker_seconds = found["broker"]
    assert outcome == "OperationalError"
    # Publishing tries twice at most (max_retries=1), each bounded by the 1 s socket timeout.
    assert 1 <= broker_seconds < 6
