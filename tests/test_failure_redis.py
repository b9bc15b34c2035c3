"""Failure injection: Redis (broker and cache) stopped while customers check out, consume
credits and Stripe delivers a webhook.

A private ``redis-server`` on a free port is stopped and started again, so the machine's own
Redis is never disturbed. Requests must still answer 2xx and write their rows; the tasks they
queue wait in the outbox (core.outbox) and reach the worker once Redis is back.
"""

import json
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail
from django.core.management import call_command

from billing.models import Order, WebhookEvent
from billing.tests.conftest import WEBHOOK_SECRET, signed_post
from billing.tests.factories_helpers import priced_product
from billing.tests.stripe_objects import wrap_event
from config import cache as resilient
from config.cache import ResilientRedisCache
from config.celery import app
from core.outbox import publisher
from core.outbox.models import OutboxMessage
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance, CreditTransaction

CONSUME = "/api/v1/credits/consume/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throw-away ``redis-server`` (no persistence) that a test may stop and restart on the
    same port."""

    def __init__(self, binary: str, directory):
        self.binary, self.directory = binary, directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=0)

    def start(self) -> None:
        # Our fixed command line; pyproject's "*/tests/*" S603 exemption misses top-level tests/.
        self.process = subprocess.Popen(  # noqa: S603
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def is_up(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False


@pytest.fixture
def redis_server(tmp_path):
    """Our own Redis; skipped without ``redis-server``, failed then under REQUIRE_SERVICES=1."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("redis-server is not installed; REQUIRE_SERVICES=1 requires it")
        pytest.skip("redis-server is not installed")
    server = RedisServer(binary, tmp_path)
    server.start()
    yield server
    server.stop()


def _reset_connection_pools(app) -> None:
    # Celery keeps its broker connections and producers in lazily built pools; after the
    # broker URL changes they must be looked up again (as Celery itself does after a fork).
    # kombu keeps one pool per URL for the whole process, so they are dropped, not closed.
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_broker(url: str, **transport_options):
    """Point the project's Celery app at ``url``, not eager: what production does with
    REDIS_URL (the same transport options as config.settings.base)."""

    keys = ("broker_url", "task_always_eager", "broker_transport_options")
    saved = {key: app.conf[key] for key in keys}
    options = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
        "socket_connect_timeout": 2,
        "visibility_timeout": 3600,
        **transport_options,
    }
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    app.conf.update(broker_url=url, task_always_eager=False, broker_transport_options=options)
    _reset_connection_pools(app)
    try:
        yield app
    finally:
        _reset_connection_pools(app)
        app.conf.update(saved)


@pytest.fixture
def outbox_without_backoff(monkeypatch):
    # After a failed publish a process leaves rows to the relay for a few seconds; this test
    # makes several requests in a row and wants each of them to try the broker itself.
    from core.outbox import services  # noqa: PLC0415 - why: the comment above

    monkeypatch.setattr(services, "_skip_until", 0.0)
    monkeypatch.setattr(services, "SKIP_AFTER_FAILURE", 0.0)


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_redis_down_requests_succeed_and_queued_work_is_delivered_once_it_returns(
    redis_server, settings, customer, customer_api, client, outbox_without_backoff, caplog
):
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.ResilientRedisCache", "LOCATION": redis_server.url}
    }
    settings.STRIPE = {**settings.STRIPE, "webhook_secret": WEBHOOK_SECRET}
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=5)
    funded_user(user=customer, credits=30)  # the threshold is 20: the 3rd charge crosses it
    product = priced_product(amount=1900)
    event = wrap_event({"id": "bal_1", "object": "balance"}, "balance.available")

    with celery_broker(redis_server.url) as app:
        redis_server.stop()
        inbox_row, pending = _requests_while_redis_is_down(
            customer=customer,
            customer_api=customer_api,
            client=client,
            product=product,
            event=event,
            caplog=caplog,
        )
        _delivered_once_redis_is_back(app, redis_server, inbox_row, pending)

    inbox_row.refresh_from_db()
    assert inbox_row.attempts == 1 and inbox_row.last_error == ""
    low_balance = [m for m in mail.outbox if "running low" in m.subject]
    assert len(low_balance) == 1 and low_balance[0].to == [customer.email]
    assert "15 left" in low_balance[0].subject
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 0


def _requests_while_redis_is_down(
    *, customer, customer_api, client, product, event, caplog
) -> tuple:
    """A customer checks out and consumes credits, Stripe calls us: every request succeeds
    and the work they queue waits in the outbox. Returns the webhook's row and that work."""
    # --- Redis is down: a customer checks out and consumes credits; Stripe calls us ----
    added = customer_api.post("/api/v1/cart/", {"product_id": product.pk}, format="json")
    checkout = customer_api.post("/api/v1/checkout/", {"payment_method": "manual"}, format="json")
    charges = [
        customer_api.post(CONSUME, {"operation": "AI_TEXT_CHAT"}, format="json") for _ in range(3)
    ]
    delivered = signed_post(client, event)
    # The webhook's task is published by the process's publisher thread, after the answer.
    assert publisher.wait_idle(timeout=20)

    assert added.status_code in (200, 201), added.content
    assert checkout.status_code == 201, checkout.content
    assert [r.status_code for r in charges] == [201, 201, 201]
    assert delivered.status_code == 200, delivered.content
    order = Order.objects.get(number=checkout.json()["order"]["number"])
    assert order.user == customer and order.total == 1900
    assert CreditBalance.objects.get(user=customer).balance == 15
    assert CreditTransaction.objects.filter(user=customer, kind="CONSUME").count() == 3
    inbox_row = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert inbox_row.status == WebhookEvent.Status.RECEIVED
    pending = list(OutboxMessage.objects.filter(published_at__isnull=True).order_by("id"))
    assert [(m.task, m.args) for m in pending] == [
        ("credits.tasks.send_low_balance_email", [customer.pk]),
        ("billing.tasks.process_webhook_event", [inbox_row.pk]),
    ]
    assert all(m.attempts == 1 and "Connection refused" in m.last_error for m in pending)
    assert not any("running low" in m.subject for m in mail.outbox)
    # The requests read system settings through the cache, which answered misses.
    assert any(
        r.name == "config.cache" and "Redis unavailable" in r.getMessage() for r in caplog.records
    )
    return inbox_row, pending


def _delivered_once_redis_is_back(app, redis_server, inbox_row, pending) -> None:
    """The relay publishes what waited; a real worker consumes it."""
    # --- Redis is back: the relay publishes; a real worker consumes ------------------
    redis_server.start()
    assert redis_server.client().llen("celery") == 0  # nothing survived only in memory
    call_command("relay_outbox")
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 0
    assert redis_server.client().llen("celery") == 2
    queued = [json.loads(raw)["headers"] for raw in redis_server.client().lrange("celery", 0, -1)]
    assert sorted(h["id"] for h in queued) == sorted(m.task_id for m in pending)

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        wait_for(
            lambda: (
                WebhookEvent.objects.get(pk=inbox_row.pk).status == WebhookEvent.Status.PROCESSED
                and any("running low" in m.subject for m in mail.outbox)
            ),
            timeout=20,
            what="the worker to process the queued tasks",
        )
        wait_for(
            lambda: redis_server.client().llen("celery") == 0, timeout=10, what="an empty queue"
        )


def test_cache_answers_misses_while_redis_is_down_and_recovers_when_it_returns(
    redis_server, monkeypatch, caplog
):

    monkeypatch.setattr(resilient, "RETRY_AFTER", 0.0)  # try Redis again on the next call
    cache = resilient.ResilientRedisCache(redis_server.url, {})
    cache.set("plan", {"credits": 5})
    assert cache.get("plan") == {"credits": 5}

    redis_server.stop()
    started = time.monotonic()
    assert cache.get("plan", "fallback") == "fallback"
    assert cache.get_many(["plan"]) == {}
    assert cache.add("new", 1) is False and cache.has_key("plan") is False
    cache.set("plan", {"credits": 9})  # dropped, no error
    assert cache.delete("plan") is False
    with pytest.raises(ValueError, match="not found"):
        cache.incr("counter")
    assert time.monotonic() - started < 2  # no retry loop per call
    assert sum("Redis unavailable" in r.getMessage() for r in caplog.records) >= 6

    redis_server.start()  # empty: this server keeps nothing on disk
    assert cache.get("plan") is None
    cache.set("plan", {"credits": 7})
    assert cache.get("plan") == {"credits": 7}
    cache.close()


def test_after_an_outage_the_cache_leaves_redis_alone_for_a_few_seconds(redis_server):

    cache = ResilientRedisCache(redis_server.url, {})
    redis_server.stop()
    assert cache.get("k") is None  # the failure that opens the pause
    redis_server.start()
    redis_server.client().set(cache.make_and_validate_key("k"), b"1")

    assert cache.get("k", "paused") == "paused"  # not asked within RETRY_AFTER
    cache.close()
