"""GET /metrics: only with the bearer token, and every figure there with the value the rows
behind it give."""

import os
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from billing.factories import WebhookEventFactory
from billing.models import WebhookEvent
from config import throttling
from config.ops import heartbeat
from core.outbox.models import OutboxMessage
from credits.factories import funded_user
from credits.invariant import record_invariant_check
from credits.models import CreditBalance

TOKEN = "metrics-test-token-0123456789"


@pytest.fixture(autouse=True)
def _token_and_empty_cache(settings, tmp_path):
    settings.METRICS_TOKEN = TOKEN
    settings.BACKUP_DIR = tmp_path / "backups"
    cache.clear()
    yield
    cache.clear()


def scrape(client=None) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of one authorised scrape."""
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer "])
def test_metrics_refuse_a_missing_or_wrong_token(header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 403
    assert b"billing_" not in response.content


@pytest.mark.django_db
def test_metrics_do_not_exist_without_a_configured_token(settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


@pytest.mark.django_db
def test_request_counts_and_latencies_by_route():
    client = Client()
    before = scrape(client)
    key = (
        "billing_http_requests_total",
        (("method", "GET"), ("route", "api/v1/products/<slug:slug>/"), ("status", "404")),
    )
    for _ in range(3):
        assert client.get("/api/v1/products/no-such-product/").status_code == 404
    after = scrape(client)
    assert after[key] - before.get(key, 0) == 3
    count = (
        "billing_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "api/v1/products/<slug:slug>/")),
    )
    assert after[count] - before.get(count, 0) == 3
    total = ("billing_http_request_duration_seconds_sum", count[1])
    assert after[total] > before.get(total, 0)


@pytest.mark.django_db
def test_outbox_webhooks_beat_and_the_ledger_check_as_the_rows_say():
    now = timezone.now()
    old = OutboxMessage.objects.create(task="credits.tasks.send_low_balance_email", args=[1])
    OutboxMessage.objects.filter(pk=old.pk).update(created_at=now - timedelta(minutes=10))
    OutboxMessage.objects.create(task="credits.tasks.send_low_balance_email", args=[2])
    OutboxMessage.objects.create(task="x", published_at=now)  # published: not backlog
    for status, age in (("received", 120), ("received", 5), ("failed", 3600), ("processed", 9000)):
        event = WebhookEventFactory(status=status)
        WebhookEvent.objects.filter(pk=event.pk).update(received_at=now - timedelta(seconds=age))
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.create(
        name="ops.test.ran",
        task="credits.tasks.expire_credits",
        interval=every_minute,
        last_run_at=now - timedelta(hours=1),
    )
    PeriodicTask.objects.create(
        name="ops.test.never",
        task="credits.tasks.expire_credits",
        interval=every_minute,
        enabled=False,
    )

    samples = scrape()

    assert value(samples, "billing_outbox_backlog") == 2
    assert 600 <= value(samples, "billing_outbox_oldest_age_seconds") < 700
    assert value(samples, "billing_webhook_events", status="received") == 2
    assert value(samples, "billing_webhook_events", status="processing") == 0
    assert value(samples, "billing_webhook_events", status="failed") == 1
    assert 120 <= value(samples, "billing_webhook_oldest_age_seconds", status="received") < 180
    assert 3600 <= value(samples, "billing_webhook_oldest_age_seconds", status="failed") < 3660
    ran = value(
        samples,
        "billing_beat_last_run_timestamp_seconds",
        schedule="ops.test.ran",
        task="credits.tasks.expire_credits",
    )
    assert abs(ran - (now - timedelta(hours=1)).timestamp()) < 1
    assert (
        value(
            samples,
            "billing_beat_last_run_timestamp_seconds",
            schedule="ops.test.never",
            task="credits.tasks.expire_credits",
        )
        == 0
    )
    assert value(samples, "billing_beat_schedule_enabled", schedule="ops.test.never") == 0
    assert value(samples, "billing_credits_invariant_checked") == 0
    assert value(samples, "billing_ops_probe_success", probe="outbox") == 1


@pytest.mark.django_db
def test_the_ledger_check_result_once_it_ran_and_when_it_finds_a_violation():
    user = funded_user(credits=50)
    record_invariant_check()
    samples = scrape()
    assert value(samples, "billing_credits_invariant_checked") == 1
    assert value(samples, "billing_credits_invariant_ok") == 1
    assert value(samples, "billing_credits_invariant_violations") == 0
    assert (
        abs(value(samples, "billing_credits_invariant_last_run_timestamp_seconds") - time.time())
        < 60
    )

    # A balance edited behind the ledger's back (what the check exists to catch).
    CreditBalance.objects.filter(user=user).update(balance=49)
    try:
        record_invariant_check()
        samples = scrape()
        assert value(samples, "billing_credits_invariant_ok") == 0
        assert value(samples, "billing_credits_invariant_violations") == 1
    finally:
        CreditBalance.objects.filter(user=user).update(balance=50)


@pytest.mark.django_db
def test_backup_age_from_the_newest_manifest_or_absent(settings):
    samples = scrape()
    assert value(samples, "billing_backup_present") == 0
    assert ("billing_backup_age_seconds", ()) not in samples

    folder = settings.BACKUP_DIR
    folder.mkdir()
    older, newer = folder / "db-1.manifest.json", folder / "db-2.manifest.json"
    older.write_text("{}")
    newer.write_text("{}")
    (folder / "db-3.dump").write_text("not a manifest")
    now = time.time()
    os.utime(older, (now - 90000, now - 90000))
    os.utime(newer, (now - 3600, now - 3600))
    samples = scrape()
    assert value(samples, "billing_backup_present") == 1
    assert 3600 <= value(samples, "billing_backup_age_seconds") < 3660
    assert abs(value(samples, "billing_backup_last_timestamp_seconds") - (now - 3600)) < 1


@pytest.mark.django_db
def test_worker_heartbeats_from_a_running_heartbeat_thread():
    beating = heartbeat.Heartbeat(hostname="celery@ops-test", queues=["celery"], interval=0.05)
    beating.start()
    try:
        deadline = time.time() + 5
        while "celery@ops-test" not in heartbeat.heartbeats() and time.time() < deadline:
            time.sleep(0.02)
        samples = scrape()
        assert value(samples, "billing_worker_heartbeat_age_seconds", worker="celery@ops-test") < 5
        assert value(samples, "billing_workers_alive") == 1
    finally:
        beating.stop()
    # A worker that stops cleanly takes its entry away.
    assert "celery@ops-test" not in heartbeat.heartbeats()

    # One that died keeps its last beat, growing old.
    heartbeat.write_heartbeat(hostname="celery@gone", queues=["celery"], now=time.time() - 600)
    samples = scrape()
    assert value(samples, "billing_worker_heartbeat_age_seconds", worker="celery@gone") >= 600
    assert value(samples, "billing_workers_alive") == 0


@pytest.mark.django_db
def test_throttled_requests_per_scope(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon": "1/min"}
    client = Client()
    statuses = [client.get("/api/v1/products/").status_code for _ in range(3)]
    assert statuses == [200, 429, 429]
    samples = scrape(Client(REMOTE_ADDR="203.0.113.50"))
    assert value(samples, "billing_throttled_requests_total", scope="anon") == 2
    assert value(samples, "billing_throttled_requests_total", scope="signup") == 0
    assert throttling.throttled_counts()["anon"] == 2


def _put(settings, count):
    with Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    ) as connection:
        queue = connection.SimpleQueue("celery")
        for number in range(count):
            queue.put({"n": number})
        queue.close()


@pytest.mark.django_db
def test_queue_depth_of_the_local_file_broker(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://localhost/"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    _put(settings, 2)
    assert value(scrape(), "billing_celery_queue_length", queue="celery") == 2


@pytest.mark.redis
@pytest.mark.django_db
def test_queue_depth_of_redis_lists(settings, redis_url):
    """Messages waiting in Redis, under a key prefix of this test's own (a real worker may be
    consuming the real "celery" list of the same server)."""
    prefix = f"ops-test-{uuid.uuid4().hex}:"
    settings.CELERY_BROKER_URL = redis_url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": prefix}
    try:
        assert value(scrape(), "billing_celery_queue_length", queue="celery") == 0
        _put(settings, 3)
        assert value(scrape(), "billing_celery_queue_length", queue="celery") == 3
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


@pytest.mark.django_db
def test_a_source_that_cannot_be_read_is_reported_and_the_rest_still_answers(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    samples = scrape()
    assert value(samples, "billing_ops_probe_success", probe="queues") == 0
    assert value(samples, "billing_ops_probe_success", probe="outbox") == 1
    assert value(samples, "billing_outbox_backlog") == 0
