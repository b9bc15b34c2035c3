"""A real Celery worker (``celery -A config worker``, as deployed) beats into the shared cache
from the moment it starts, logs JSON lines with task ids under LOG_FORMAT=json, and /metrics
read in another process shows its heartbeat."""

import json

import pytest
from django.test import Client

from config.ops import heartbeat
from tests.test_failure_redis import redis_server, wait_for  # noqa: F401
from tests.test_failure_worker import workers  # noqa: F401

TOKEN = "metrics-test-token-0123456789"


@pytest.mark.redis
def test_a_running_worker_beats_and_logs_json_lines(workers, redis_server, settings):  # noqa: F811
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.ResilientRedisCache", "LOCATION": redis_server.url}
    }
    settings.METRICS_TOKEN = TOKEN
    worker = workers(LOG_FORMAT="json")

    wait_for(lambda: heartbeat.heartbeats(), timeout=30, what="the worker's first heartbeat")
    ((hostname, beat),) = heartbeat.heartbeats().items()
    assert hostname.startswith("failure-") and "celery" in beat["queues"]
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    line = next(
        line
        for line in response.content.decode().splitlines()
        if line.startswith(f'billing_worker_heartbeat_age_seconds{{worker="{hostname}"')
    )
    assert float(line.rsplit(" ", 1)[1]) < heartbeat.INTERVAL + 5

    # On start the worker relays the outbox (config.celery): a task whose lines name it.
    def task_lines():
        entries = [
            json.loads(text)
            for text in worker.log_path.read_text().splitlines()
            if text.startswith("{")
        ]
        return [entry for entry in entries if entry.get("task_id")]

    wait_for(task_lines, timeout=30, what="a JSON log line written inside a task")
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in task_lines())
