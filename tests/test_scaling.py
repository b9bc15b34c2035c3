"""Past one machine: two web servers, two Celery workers and two beats on one PostgreSQL
database and one Redis, each thing done once.

Real processes on this machine, on loopback, started the way deploy/ starts them: gunicorn
with deploy/gunicorn.conf.py serving config.wsgi (2 workers each), ``celery worker`` (prefork,
2 each) and ``celery beat`` with the leader lease (config.beat), all logged in as the
application's database role to this test's database, with a private Redis as broker and
cache. Then:

* every signed Stripe webhook is POSTed to both web servers at once: each event is stored
  once, processed once by one of the workers, and pays its order once;
* credits are consumed through the API on both servers at once, each idempotency key sent to
  both: each key takes effect once, both answers agree, and the balance never goes below 0;
* a day's rollup queued twice runs twice (one worker each, maybe at the same time) to one
  result, the same as a clean recomputation;
* of the two beats one leads: a task scheduled every 2 s is sent once per interval, not
  twice; when the leader stops, the other takes over.
"""

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.services import create_api_key
from analytics.models import DailyMetric
from analytics.rollup import rollup_day
from billing.factories import OrderFactory, OrderItemFactory, give_api_access
from billing.models import BillingSource, OrderStatus, Payment, WebhookEvent
from billing.stripe.signature import sign_header
from billing.tests.conftest import WEBHOOK_SECRET, WEBHOOK_URL
from billing.tests.stripe_objects import example, wrap_event
from core import outbox
from core.dbroles import roles
from core.models import AuditLog
from credits.factories import FeatureCostFactory, funded_user
from credits.invariant import check_invariant
from credits.models import CreditBalance, CreditTransaction, TransactionKind
from tests.test_failure_redis import celery_broker, free_port, redis_server, wait_for  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[1]
EVENTS = 12
CREDITS, COST, KEYS = 100, 5, 30  # 20 consumes fit; 10 keys find the balance empty
PROBE = "scaling-probe"
PROBE_EVERY = 2  # seconds
STOP_SECONDS = 15


def _database_url() -> str:
    """This test's database, logged in as the application (as deploy/ runs every process)."""
    found = roles(connection)
    login = found["app"] if found else connection.settings_dict
    name = connection.settings_dict["NAME"]
    host, password = login["HOST"] or "", login["PASSWORD"] or ""
    if host.startswith("/"):
        return f"postgresql://{login['USER']}:{password}@/{name}?host={host}"
    return f"postgresql://{login['USER']}:{password}@{host}:{login['PORT'] or 5432}/{name}"


class Process:
    """One service in its own session (so its children go with it), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Process":
        self._log = self.log_path.open("ab")
        # Our fixed command lines; pyproject's "*/tests/*" S603 exemption misses tests/.
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, *self.argv],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM the whole session (a warm shutdown), SIGKILL what is left after ``timeout``."""
        if self.process is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)
        with contextlib.suppress(ProcessLookupError):  # pool children of a killed worker
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


def _cluster_env(redis_url: str) -> dict:
    """This process's environment for the cluster's processes, without Stripe's keys."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STRIPE_") and key != "MIGRATION_DATABASE_URL"
    }
    # FIELD_ENCRYPTION_KEYS comes from this process (test settings put it in the
    # environment), so every process reads what the others encrypt.
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DEBUG="false",
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        PYTHONUNBUFFERED="1",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        DB_CONN_MAX_AGE="60",
    )
    return env


def _web_argv(port: int) -> list[str]:
    return [
        "-m",
        "gunicorn",
        "-c",
        "deploy/gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "config.wsgi",
    ]


def _worker_argv(n: int) -> list[str]:
    return [
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-P",
        "prefork",
        "-c",
        "2",
        "-Q",
        "celery",
        "-l",
        "INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"scaling{n}-{os.getpid()}@%h",
    ]


_BEAT_ARGV = [
    "-m",
    "celery",
    "-A",
    "config",
    "beat",
    "-l",
    "INFO",
    "-S",
    "config.beat:LeaderScheduler",
]


class Cluster:
    def __init__(self, redis_url: str, log_dir: Path):
        env = _cluster_env(redis_url)
        self.ports = [free_port(), free_port()]
        self.webs = [
            Process(f"web{n}", _web_argv(port), env, log_dir)
            for n, port in enumerate(self.ports, 1)
        ]
        self.workers = [Process(f"worker{n}", _worker_argv(n), env, log_dir) for n in (1, 2)]
        self.beats = [Process(f"beat{n}", _BEAT_ARGV, env, log_dir) for n in (1, 2)]
        self.all = [*self.webs, *self.workers, *self.beats]

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self) -> None:
        for process in self.all:
            process.start()
        for web, url in zip(self.webs, self.urls(), strict=True):
            wait_for(
                lambda url=url, web=web: _healthy(url) or not web.alive(),
                timeout=60,
                what=f"{web.name} to answer /healthz/",
            )
        for worker in self.workers:
            wait_for(
                lambda worker=worker: " ready." in worker.log or not worker.alive(),
                timeout=60,
                what=f"{worker.name} to be ready",
            )
        wait_for(
            lambda: (
                any("leading" in beat.log for beat in self.beats)
                or not all(beat.alive() for beat in self.beats)
            ),
            timeout=60,
            what="a beat to lead",
        )
        self.check_alive()

    def check_alive(self) -> None:
        for process in self.all:
            if process.process is not None and process.process.poll() is not None:
                raise AssertionError(f"{process.name} exited:\n{process.log[-3000:]}")

    def stop(self) -> None:
        # In parallel: each may take a warm shutdown.
        threads = [threading.Thread(target=process.stop) for process in self.all]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def cluster(redis_server, tmp_path, transactional_db):  # noqa: F811
    """Everything stops (SIGKILL at worst) before the test database is flushed."""
    started = Cluster(redis_server.url, tmp_path)
    try:
        yield started
    finally:
        started.stop()


# --- what the processes are given to do ---------------------------------------------------------


def _paid_checkouts(customer) -> list[tuple]:
    """EVENTS Stripe orders awaiting payment and, for each, Stripe's signed
    checkout.session.completed delivery (body, Stripe-Signature)."""
    deliveries = []
    for n in range(EVENTS):
        order = OrderFactory(
            user=customer,
            billing_source=BillingSource.STRIPE,
            subtotal=1900,
            stripe_payment_intent_id=f"pi_scale_{n}",
            stripe_checkout_session_id=f"cs_scale_{n}",
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
        body = json.dumps(
            wrap_event(session, "checkout.session.completed", event_id=f"evt_scale_{n}")
        ).encode()
        deliveries.append((order, body, sign_header(secret=WEBHOOK_SECRET, body=body)))
    return deliveries


def _post_webhook(url: str, body: bytes, signature: str) -> int:
    return requests.post(
        f"{url}{WEBHOOK_URL}",
        data=body,
        timeout=30,
        headers={"Content-Type": "application/json", "Stripe-Signature": signature},
    ).status_code


def _consume(url: str, raw_key: str, idempotency_key: str) -> tuple[int, dict]:
    response = requests.post(
        f"{url}/api/v1/credits/consume/",
        timeout=30,
        json={"operation": "AI_TEXT_CHAT"},
        headers={"Authorization": f"Bearer {raw_key}", "Idempotency-Key": idempotency_key},
    )
    return response.status_code, response.json()


def _seed_payments(customer, day, count: int) -> None:
    noon = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=12)
    for _ in range(count):
        payment = Payment.objects.create(
            user=customer, provider=BillingSource.MANUAL, amount=1000, currency="usd", paid_at=noon
        )
        Payment.objects.filter(pk=payment.pk).update(created_at=noon)


def _rows_of(day) -> dict:
    return {
        (m.metric, m.dimension): (m.value, m.metadata) for m in DailyMetric.objects.filter(date=day)
    }


def _probe_sends(beat: Process) -> int:
    return len(re.findall(rf"Sending due task {PROBE}\b", beat.log))


def _set_the_scene(customer) -> tuple:
    """Signed webhooks of paid checkouts, a funded spender with an API key, a day of payments
    to roll up, and the probe task the beats schedule every PROBE_EVERY seconds."""
    deliveries = _paid_checkouts(customer)
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=COST)
    spender = funded_user(credits=CREDITS)
    give_api_access(spender)
    _key, raw_key = create_api_key(user=spender, name="scaling")
    day = timezone.now().date() - timedelta(days=3)
    _seed_payments(customer, day, count=3)
    every = IntervalSchedule.objects.create(every=PROBE_EVERY, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=PROBE, task="config.outbox.tasks.relay_outbox", interval=every)
    return deliveries, spender, raw_key, day


def _post_every_webhook_to_both(deliveries, urls) -> list[int]:
    """Webhooks: every delivery to both servers at once."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(
            pool.map(
                lambda job: _post_webhook(*job),
                [(url, body, signature) for _order, body, signature in deliveries for url in urls],
            )
        )


def _consume_each_key_on_both(urls, raw_key) -> list:
    """Credits: each idempotency key to both servers, all at once, in a random order."""
    jobs = [(url, f"scale-{n}") for n in range(KEYS) for url in urls]
    random.Random(7).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=12) as pool:
        return list(pool.map(lambda job: (job[1], _consume(job[0], raw_key, job[1])), jobs))


def _queue_the_rollup_twice(redis_url: str, day) -> None:
    """The rollup of one day, queued twice."""
    with celery_broker(redis_url):
        outbox.enqueue("analytics.tasks.rollup_date", day.isoformat())
        outbox.enqueue("analytics.tasks.rollup_date", day.isoformat())


def _rollups_done(cluster) -> int:
    return sum(
        len(re.findall(r"analytics\.tasks\.rollup_date\[[^\]]+\] succeeded", worker.log))
        for worker in cluster.workers
    )


def _webhooks_settled() -> bool:
    return WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).count() == EVENTS


# --- the test ----------------------------------------------------------------------------------


def test_two_web_servers_two_workers_and_two_beats_on_one_database_do_each_thing_once(
    cluster,
    redis_server,  # noqa: F811 - the fixture imported from test_failure_redis
    customer,
):
    deliveries, spender, raw_key, day = _set_the_scene(customer)

    cluster.start()
    beats_watched_from = time.monotonic()
    sends_before = [_probe_sends(beat) for beat in cluster.beats]
    urls = cluster.urls()

    statuses = _post_every_webhook_to_both(deliveries, urls)
    assert set(statuses) == {200}, statuses

    answers = _consume_each_key_on_both(urls, raw_key)
    _queue_the_rollup_twice(redis_server.url, day)

    wait_for(
        lambda: (
            (_webhooks_settled() and _rollups_done(cluster) == 2)
            or any(not p.alive() for p in cluster.all)
        ),
        timeout=60,
        what="the webhooks to be processed and both rollups to run",
    )
    cluster.check_alive()

    _assert_each_webhook_processed_once(deliveries)
    _assert_each_key_charged_once(answers, spender)
    _assert_rollup_written_once(day)
    _assert_one_beat_leads_then_hands_over(cluster, sends_before, beats_watched_from)


def _assert_each_webhook_processed_once(deliveries) -> None:
    """Each webhook: one inbox row, processed once, one payment, one audit entry."""
    events = WebhookEvent.objects.filter(stripe_event_id__startswith="evt_scale_")
    assert events.count() == EVENTS
    assert set(events.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    for order, _body, _signature in deliveries:
        order.refresh_from_db()
        assert (order.status, order.payment_status) == (OrderStatus.COMPLETED, "SUCCEEDED")
        assert list(Payment.objects.filter(order=order).values_list("amount", flat=True)) == [1900]
        assert (
            AuditLog.objects.filter(
                resource_id=str(order.pk), context__operation="order_paid"
            ).count()
            == 1
        )


def _assert_each_key_charged_once(answers, spender) -> None:
    """Each idempotency key: once, the same answer from both servers, never below zero."""
    by_key: dict[str, list] = {}
    for key, answer in answers:
        by_key.setdefault(key, []).append(answer)
    assert all(
        len(pair) == 2 and pair[0][0] == pair[1][0] in (201, 402) for pair in by_key.values()
    ), by_key
    charged = {
        key: pair[0][1]["transaction_id"] for key, pair in by_key.items() if pair[0][0] == 201
    }
    assert all(pair[0][1] == pair[1][1] for key, pair in by_key.items() if key in charged)
    refused = [key for key, pair in by_key.items() if pair[0][0] == 402]
    assert (len(charged), len(refused)) == (CREDITS // COST, KEYS - CREDITS // COST)
    assert len(set(charged.values())) == len(charged)
    consumed = CreditTransaction.objects.filter(user=spender, kind=TransactionKind.CONSUME)
    assert sorted(consumed.values_list("pk", flat=True)) == sorted(charged.values())
    assert CreditBalance.objects.get(user=spender).balance == 0
    assert check_invariant() == []


def _assert_rollup_written_once(day) -> None:
    """The rollup: one row per metric, what a clean recomputation gives."""
    written = _rows_of(day)
    assert written[("gross_revenue", "usd")][0] == 3000
    assert len(written) == DailyMetric.objects.filter(date=day).count()
    rollup_day(day)
    assert _rows_of(day) == written


def _assert_one_beat_leads_then_hands_over(cluster, sends_before, beats_watched_from) -> None:
    """Beat: one leader; the probe went out once per interval while both beats ran. The
    leader stops (a deploy, a host going away): the standby takes over."""
    watched = time.monotonic() - beats_watched_from
    sends = [
        _probe_sends(beat) - before
        for beat, before in zip(cluster.beats, sends_before, strict=True)
    ]
    leader, standby = (0, 1) if sends[0] else (1, 0)
    assert sends[standby] == 0, sends
    # Two beats sending would make it twice the intervals; a late tick sends once, not twice.
    assert watched / PROBE_EVERY / 2 <= sends[leader] <= watched / PROBE_EVERY + 1, (sends, watched)
    assert "leading" not in cluster.beats[standby].log

    # The leader stops (a deploy, a host going away): the standby takes over.
    cluster.beats[leader].stop()
    assert "lease released" in cluster.beats[leader].log
    wait_for(
        lambda: _probe_sends(cluster.beats[standby]) > 0,
        timeout=30,
        what="the standby beat to take over",
    )
    assert "leading" in cluster.beats[standby].log
