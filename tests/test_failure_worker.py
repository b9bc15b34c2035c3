"""Failure injection: a Celery worker killed with SIGKILL in the middle of webhook events and
a multi-day rollup.

A real worker (``celery -A config worker``, prefork, concurrency 1) runs against a private
Redis and this test's database. With ``acks_late`` and ``task_reject_on_worker_lost`` the task
a dead process was running is delivered again: at once when only the pool child dies (the main
process rejects it back to the queue), after Redis's visibility timeout when the main process
dies too. Every task is idempotent, so the end state has each event's effect once and each
day's rollup once, equal to a clean recomputation.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from billing.factories import OrderFactory, OrderItemFactory
from billing.models import BillingSource, OrderStatus, Payment, WebhookEvent
from billing.stripe import inbox
from billing.tests.stripe_objects import example, wrap_event
from config.celery import app
from config.env import broker_visibility_timeout
from core import outbox
from core.models import AuditLog
from core.outbox.models import OutboxMessage
from tests.test_failure_redis import celery_broker, redis_server, wait_for  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
EVENTS = 24
DAYS = 24
VISIBILITY_TIMEOUT = 3  # seconds; only for the worker whose main process is killed


def _database_url() -> str:
    db = settings.DATABASES["default"]
    name = connection.settings_dict["NAME"]  # the test database
    host = db.get("HOST") or ""
    if host.startswith("/"):
        return f"postgresql://{db['USER']}:@/{name}?host={host}"
    return (
        f"postgresql://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:"
        f"{db.get('PORT') or 5432}/{name}"
    )


class Worker:
    """``celery -A config worker`` in its own session, logging to a file."""

    def __init__(self, redis_url: str, log_path: Path, **extra_env):
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": redis_url,
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        # The handlers used here never call Stripe; without keys nothing can reach it.
        for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_API_BASE"):
            self.env.pop(name, None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self._log = self.log_path.open("a")
        # Our fixed command line; pyproject's "*/tests/*" S603 exemption misses top-level tests/.
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-P",
                "prefork",
                "-c",
                "1",
                "-l",
                "INFO",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"failure-{os.getpid()}-{time.time_ns()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: " ready." in self.log_path.read_text() or self.process.poll() is not None,
            timeout=60,
            what="the worker to start",
        )
        assert self.process.poll() is None, self.log_path.read_text()

    def pool_children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def kill_everything(self) -> None:
        """SIGKILL the main process and its pool, as a crash or an OOM kill of the host
        would; nothing gets to ack, reject or clean up."""
        if self.process is None:
            return
        try:
            processes = [psutil.Process(self.process.pid), *self.pool_children()]
        except psutil.NoSuchProcess:
            processes = []
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs(processes, timeout=10)
        self.process.wait(timeout=10)
        self.process = None
        self._log.close()


@pytest.fixture
def workers(redis_server, tmp_path, transactional_db):  # noqa: F811
    """Start workers on demand; every one still running is killed at the end (before the
    test database is flushed)."""
    started: list[Worker] = []

    def start(**extra_env) -> Worker:
        worker = Worker(redis_server.url, tmp_path / f"worker-{len(started)}.log", **extra_env)
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.kill_everything()


def _payments_on(n: int) -> int:
    return n % 3  # 0, 1 or 2 payments of 10.00 USD on the n-th rolled-up day


def _seed_payments(customer, day, *, count: int) -> None:
    """Past payments, so each day's revenue rollup has a known answer."""
    noon = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=12)
    for _ in range(count):
        payment = Payment.objects.create(
            user=customer, provider=BillingSource.MANUAL, amount=1000, currency="usd", paid_at=noon
        )
        Payment.objects.filter(pk=payment.pk).update(created_at=noon)


def _queue_work(customer) -> tuple[list, list]:
    """EVENTS paid Stripe checkouts and DAYS rollup days, interleaved, through the outbox as
    the webhook view and the rollup command would queue them."""
    orders, days = [], []
    today = timezone.now().date()
    for n in range(max(EVENTS, DAYS)):
        if n < EVENTS:
            order = OrderFactory(
                user=customer,
                billing_source=BillingSource.STRIPE,
                subtotal=1900,
                stripe_payment_intent_id=f"pi_kill_{n}",
                stripe_checkout_session_id=f"cs_kill_{n}",
            )
            OrderItemFactory(order=order, unit_amount=1900)
            session = example(
                "checkout.session",
                id=order.stripe_checkout_session_id,
                mode="payment",
                payment_status="paid",
                status="complete",
                amount_total=order.total,
                currency=order.currency,
                payment_intent=order.stripe_payment_intent_id,
                metadata={"order_id": str(order.pk)},
            )
            event = wrap_event(session, "checkout.session.completed", event_id=f"evt_kill_{n}")
            inbox.record_event(body=json.dumps(event).encode())
            orders.append(order)
        if n < DAYS:
            day = today - timedelta(days=DAYS + 1 - n)
            _seed_payments(customer, day, count=_payments_on(n))
            outbox.enqueue("analytics.tasks.rollup_date", day.isoformat())
            days.append(day)
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 0
    return orders, days


def _progress() -> int:
    return (
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).count()
        + DailyMetric.objects.values("date").distinct().count()
    )


def _all_done(redis_server, days) -> bool:  # noqa: F811
    client = redis_server.client()
    drained = client.llen("celery") == 0 and client.hlen("unacked") == 0
    settled = not WebhookEvent.objects.filter(
        status__in=[
            WebhookEvent.Status.RECEIVED,
            WebhookEvent.Status.FAILED,
            WebhookEvent.Status.PROCESSING,
        ]
    ).exists()
    rolled = DailyMetric.objects.filter(date__in=days).values("date").distinct().count()
    return drained and settled and rolled == len(days)


def _assert_each_task_took_effect_once(orders, days):
    events = WebhookEvent.objects.filter(stripe_event_id__startswith="evt_kill_")
    assert events.count() == EVENTS
    assert set(events.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    for order in orders:
        order.refresh_from_db()
        assert (order.status, order.payment_status) == (OrderStatus.COMPLETED, "SUCCEEDED")
        assert Payment.objects.filter(order=order).count() == 1
        assert Payment.objects.get(order=order).amount == 1900
        assert (
            AuditLog.objects.filter(
                resource_id=str(order.pk), context__operation="order_paid"
            ).count()
            == 1
        )
    # One row per (day, metric, dimension) (also a unique constraint), and the values are
    # what a clean recomputation of each day gives.
    written = {
        (m.date, m.metric, m.dimension): (m.value, m.metadata)
        for m in DailyMetric.objects.filter(date__in=days)
    }
    assert len(written) == DailyMetric.objects.filter(date__in=days).count()
    assert {day for day, _, _ in written} == set(days)
    for n, day in enumerate(days):
        gross = written.get((day, "gross_revenue", "usd"))
        actual = (gross[0], gross[1]["payments"]) if gross else None
        count = _payments_on(n)
        assert actual == ((1000 * count, count) if count else None), day
    for day in days:
        rollup_day(day)
    recomputed = {
        (m.date, m.metric, m.dimension): (m.value, m.metadata)
        for m in DailyMetric.objects.filter(date__in=days)
    }
    assert written == recomputed


def _run_to_the_end(redis_server, days, worker):  # noqa: F811
    wait_for(
        lambda: _all_done(redis_server, days) or worker.process.poll() is not None,
        timeout=60,
        what="the queue to drain",
    )
    # The inbox holds each row's lock while its handlers run, so a killed worker's row rolls
    # back and the redelivered task processes it at once: no row waits for the stuck sweep.
    assert worker.process.poll() is None, worker.log_path.read_text()


def _kill_the_pool_child_during_a_task(worker, *, tries: int = 5) -> int:
    """SIGKILL the pool child until one kill lands while it runs a task (a kill between two
    tasks loses nothing and proves nothing). Returns the work done at that kill."""
    for _ in range(tries):
        progress = _progress()
        wait_for(
            lambda seen=progress: _progress() > seen, timeout=30, what="the worker to progress"
        )
        lost_before = worker.log_path.read_text().count("WorkerLostError")
        (child,) = worker.pool_children()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        done_at_kill = _progress()
        # The main process reports the lost task once it has reaped the child.
        wait_for(
            lambda dead=child.pid: [c.pid for c in worker.pool_children()] not in ([], [dead]),
            timeout=15,
            what="a new pool child",
        )
        time.sleep(0.2)
        if worker.log_path.read_text().count("WorkerLostError") > lost_before:
            return done_at_kill
    raise AssertionError(f"no kill in {tries} landed during a task")


@pytest.mark.django_db(transaction=True)
def test_sigkill_of_the_pool_child_mid_batch_redelivers_and_every_task_takes_effect_once(
    redis_server,  # noqa: F811 - the fixture imported from test_failure_redis
    workers,
    customer,
):
    with celery_broker(redis_server.url):
        orders, days = _queue_work(customer)
        worker = workers()
        wait_for(
            lambda: _progress() >= (EVENTS + DAYS) // 4,
            timeout=60,
            what="the worker to get through a quarter of the batch",
        )
        done_at_kill = _kill_the_pool_child_during_a_task(worker)

        _run_to_the_end(redis_server, days, worker)

    assert done_at_kill < EVENTS + DAYS, "the kill came after the work: nothing was tested"
    # Each worker relays the outbox when it starts (config.celery), without beat.
    assert re.search(
        r"Task config\.outbox\.tasks\.relay_outbox\[[^\]]+\] succeeded", worker.log_path.read_text()
    )
    _assert_each_task_took_effect_once(orders, days)


@pytest.mark.django_db(transaction=True)
def test_sigkill_of_the_whole_worker_mid_batch_is_redelivered_after_the_visibility_timeout(
    redis_server,  # noqa: F811 - the fixture imported from test_failure_redis
    workers,
    customer,
):
    short = {"REDIS_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
    with celery_broker(redis_server.url, visibility_timeout=VISIBILITY_TIMEOUT):
        orders, days = _queue_work(customer)
        target = (EVENTS + DAYS) // 3
        for _ in range(5):
            # Kill while a message is out (delivered, not acked): a task is running. A task
            # may finish between that check and the kill; then nothing was lost or tested,
            # and a new worker goes on until a kill lands mid-task.
            first = workers(**short)
            wait_for(
                lambda seen=target: _progress() >= seen, timeout=60, what="the worker to progress"
            )
            wait_for(
                lambda: redis_server.client().hlen("unacked") == 1,
                timeout=10,
                what="a task in flight",
            )
            first.kill_everything()
            done_at_kill = _progress()
            in_flight = redis_server.client().hlen("unacked")
            if in_flight:
                break
            target = done_at_kill + 1

        # Redis gives unacked messages back only after the visibility timeout.
        time.sleep(VISIBILITY_TIMEOUT + 0.5)
        second = workers(**short)
        _run_to_the_end(redis_server, days, second)

    assert done_at_kill < EVENTS + DAYS, "the kill came after the work: nothing was tested"
    assert in_flight == 1  # prefetch 1, concurrency 1: the task being run when it died
    _assert_each_task_took_effect_once(orders, days)


@pytest.mark.django_db  # celery's Django fixup runs system checks, and dj-stripe's read the DB
def test_default_visibility_timeout_outlasts_every_task_limit_and_retry_countdown(monkeypatch):
    """Redis redelivers a message not acked within the visibility timeout, even when its
    worker is alive: a task that may run (time limit) or wait (retry countdown) longer than
    that would run twice. The default must outlast them all."""

    app.loader.import_default_modules()
    longest_run = max(
        (task.time_limit or settings.CELERY_TASK_TIME_LIMIT)
        for name, task in app.tasks.items()
        if not name.startswith("celery.")
    )
    longest_wait = max(
        (
            getattr(task, "retry_backoff_max", 600)
            if getattr(task, "retry_backoff", False)
            else task.default_retry_delay
        )
        for name, task in app.tasks.items()
        if not name.startswith("celery.")
    )
    monkeypatch.delenv("REDIS_VISIBILITY_TIMEOUT", raising=False)
    default = broker_visibility_timeout()

    assert default > longest_run and default > longest_wait
