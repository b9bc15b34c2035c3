"""Acknowledged Stripe events reach the broker from the web process's publisher thread, and
the acknowledgement never waits for the broker. A real broker: kombu's in-memory transport,
or a TCP server on 127.0.0.1 that accepts and never answers."""

import contextlib
import socket
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from billing.models import WebhookEvent
from billing.stripe import inbox
from billing.tests.conftest import signed_post
from billing.tests.stripe_objects import example, wrap_event
from conftest import drain_queue
from core.outbox import publisher, services
from core.outbox.models import OutboxMessage
from tests.test_failure_redis import celery_broker


def _event(number: int) -> dict:
    return wrap_event(example("customer", id=f"cus_pub{number}"), "customer.updated")


@pytest.mark.django_db(transaction=True)
def test_every_acknowledged_event_is_published_once_by_the_publisher_thread(
    webhook_secret, memory_broker
):
    client = Client()
    events = [_event(n) for n in range(25)]
    for event in events:
        response = signed_post(client, event)
        assert response.status_code == 200 and response.content == b"ok"
    signed_post(client, events[0])  # a duplicate delivery queues nothing

    assert publisher.wait_idle(timeout=20)
    ids = {row.pk: row for row in WebhookEvent.objects.all()}
    assert len(ids) == 25
    sent = drain_queue(memory_broker)
    assert sorted(args[0] for _, _, args in sent) == sorted(ids)
    assert {name for name, _, _ in sent} == {inbox.PROCESS_TASK}
    rows = OutboxMessage.objects.all()
    assert len(rows) == 25
    assert all(row.published_at is not None and row.attempts == 1 for row in rows)
    assert {row.task_id for row in rows} == {task_id for _, task_id, _ in sent}
    # Idle, the thread gives its database connection back (a held session would keep the
    # database from being dropped or copied).
    assert _wait_until(lambda: _other_sessions() == 0, timeout=10), _other_sessions()


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _wait_until(condition, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class SilentBroker:
    """A TCP server that accepts connections and never answers: a hung broker."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = threading.Event()
        self.closed = False
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.closed:
                conn.close()
                return
            self.connections.append(conn)
            self.accepted.set()

    def close(self):
        self.closed = True
        with contextlib.suppress(OSError):  # shutdown wakes the accepting thread (Linux)
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_never_answers_does_not_hold_up_the_acknowledgement(
    webhook_secret, monkeypatch
):
    monkeypatch.setattr(services, "_skip_until", 0.0)
    monkeypatch.setattr(services, "SKIP_AFTER_FAILURE", 0.0)
    broker = SilentBroker()
    try:
        with celery_broker(f"redis://127.0.0.1:{broker.port}/0"):
            response = signed_post(Client(), _event(1))
            # The answer is back while the publisher is still waiting on the broker.
            assert response.status_code == 200
            assert broker.accepted.wait(timeout=20), "the publisher never tried the broker"
            message = OutboxMessage.objects.get()
            assert message.published_at is None
            broker.close()  # the broker goes away: the publish fails and the row is released
            assert publisher.wait_idle(timeout=30)
    finally:
        broker.close()
    message.refresh_from_db()
    assert message.published_at is None and message.claimed_until is None
    assert message.attempts == 1 and message.last_error
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.RECEIVED


@pytest.mark.django_db(transaction=True)
def test_what_the_publisher_could_not_send_the_relay_does(
    webhook_secret, memory_broker, monkeypatch
):
    monkeypatch.setattr(services, "_skip_until", 0.0)
    broker = SilentBroker()
    try:
        with celery_broker(f"redis://127.0.0.1:{broker.port}/0"):
            signed_post(Client(), _event(2))
            assert broker.accepted.wait(timeout=20)
            broker.close()
            assert publisher.wait_idle(timeout=30)
    finally:
        broker.close()
    monkeypatch.setattr(services, "_skip_until", 0.0)

    with celery_broker("memory://"):
        assert services.relay()["published"] == 1
    event = WebhookEvent.objects.get()
    assert [args for _, _, args in drain_queue(memory_broker)] == [[event.pk]]
