"""Prometheus: ``GET /metrics`` with ``Authorization: Bearer $METRICS_TOKEN``.

Two kinds of figures:

* request counts and latencies, counted by ``RequestMetricsMiddleware`` in each web process
  (prometheus_client). Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR``
  to an empty folder that all workers share (emptied at each start) so a scrape adds up every
  worker instead of reading the one that happened to answer;
* the machinery's state, read at each scrape (config.ops.probes): Celery queue depths, the
  outbox and the webhook inbox, beat's last runs, worker heartbeats, the ledger check, the
  last backup, throttled requests.

Without ``METRICS_TOKEN`` the endpoint does not exist (404); a wrong or missing token is 403.
"""

import hmac
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from config.ops import probes

PREFIX = "billing_"
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

REQUESTS = Counter(
    f"{PREFIX}http_requests",
    "HTTP requests answered, by route, method and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    f"{PREFIX}http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route and method.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def route_of(request) -> str:
    """The URL pattern that answered (``api/v1/orders/<str:number>/``), not the path: one
    series per route whatever the ids in the URLs."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


class RequestMetricsMiddleware:
    """Counts and times every request. Placed right after the request id, so its time covers
    the rest of the middleware too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        route = route_of(request)
        REQUESTS.labels(method, route, str(response.status_code)).inc()
        LATENCY.labels(method, route).observe(time.perf_counter() - started)
        return response


# --- the machinery, read at each scrape ------------------------------------------------------


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


def _queues(snap):
    depth = _gauge("celery_queue_length", "Messages waiting in a Celery queue.", ("queue",))
    for queue, count in (snap["queues"] or {}).items():
        depth.add_metric([queue], count)
    yield depth


def _outbox(snap):
    outbox = snap["outbox"]
    if outbox is None:
        return
    yield GaugeMetricFamily(
        PREFIX + "outbox_backlog",
        "Outbox tasks not yet published to the broker.",
        value=outbox["count"],
    )
    yield GaugeMetricFamily(
        PREFIX + "outbox_oldest_age_seconds",
        "Age of the oldest unpublished outbox task (0 when there is none).",
        value=outbox["oldest_age"] or 0,
    )


def _webhooks(snap):
    webhooks = snap["webhooks"]
    if webhooks is None:
        return
    count = _gauge(
        "webhook_events",
        "Stripe webhook events not processed yet (received, processing) or failed, by status.",
        ("status",),
    )
    age = _gauge(
        "webhook_oldest_age_seconds",
        "Age of the oldest Stripe webhook event in a status (0 when there is none).",
        ("status",),
    )
    for status, row in webhooks.items():
        count.add_metric([status], row["count"])
        age.add_metric([status], row["oldest_age"] or 0)
    yield count
    yield age


def _beat(snap):
    last_run = _gauge(
        "beat_last_run_timestamp_seconds",
        "When beat last ran a schedule (Unix time; 0 if never).",
        ("schedule", "task"),
    )
    enabled = _gauge("beat_schedule_enabled", "1 if a schedule is enabled.", ("schedule",))
    for row in snap["beat"] or []:
        at = row["last_run_at"]
        last_run.add_metric([row["name"], row["task"]], at.timestamp() if at else 0)
        enabled.add_metric([row["name"]], 1 if row["enabled"] else 0)
    yield last_run
    yield enabled


def _workers(snap):
    at = _gauge(
        "worker_heartbeat_timestamp_seconds",
        "A Celery worker's last heartbeat (Unix time).",
        ("worker",),
    )
    age = _gauge(
        "worker_heartbeat_age_seconds",
        "Seconds since a Celery worker's last heartbeat (written every 15 s).",
        ("worker",),
    )
    for worker in snap["workers"] or []:
        at.add_metric([worker["hostname"]], worker["at"])
        age.add_metric([worker["hostname"]], worker["age"])
    yield at
    yield age
    if snap["workers"] is not None:
        yield GaugeMetricFamily(
            PREFIX + "workers_alive",
            "Workers whose heartbeat is recent.",
            value=sum(not w["stale"] for w in snap["workers"]),
        )


def _credits_invariant(snap):
    if "credits_invariant" in snap.errors:
        return
    check = snap["credits_invariant"]
    yield GaugeMetricFamily(
        PREFIX + "credits_invariant_checked",
        "1 once the ledger check has run (its other figures exist only then).",
        value=0 if check is None else 1,
    )
    if check is None:
        return
    yield GaugeMetricFamily(
        PREFIX + "credits_invariant_ok",
        "1 if the last ledger check found balance = ledger = lots for everyone.",
        value=1 if check["violations"] == 0 else 0,
    )
    yield GaugeMetricFamily(
        PREFIX + "credits_invariant_violations",
        "Violations the last ledger check found.",
        value=check["violations"],
    )
    yield GaugeMetricFamily(
        PREFIX + "credits_invariant_last_run_timestamp_seconds",
        "When the last ledger check ran (Unix time).",
        value=check["at"].timestamp(),
    )


def _backup(snap):
    if "backup" in snap.errors:
        return
    backup = snap["backup"]
    yield GaugeMetricFamily(
        PREFIX + "backup_present",
        "1 if BACKUP_DIR holds a backup manifest.",
        value=0 if backup is None else 1,
    )
    if backup is None:
        return
    yield GaugeMetricFamily(
        PREFIX + "backup_last_timestamp_seconds",
        "When the newest backup manifest was written (Unix time).",
        value=backup["at"],
    )
    yield GaugeMetricFamily(
        PREFIX + "backup_age_seconds", "Age of the newest backup manifest.", value=backup["age"]
    )


def _throttled(snap):
    refused = CounterMetricFamily(
        PREFIX + "throttled_requests",
        "Requests refused with 429, by rate-limit scope.",
        labels=["scope"],
    )
    for scope, count in sorted((snap["throttled"] or {}).items()):
        refused.add_metric([scope], count)
    yield refused


def _probe_health(snap):
    up = _gauge(
        "ops_probe_success", "1 if the probe could read its source at this scrape.", ("probe",)
    )
    seconds = _gauge(
        "ops_probe_duration_seconds", "Time the probe took at this scrape.", ("probe",)
    )
    for name, duration in snap.durations.items():
        up.add_metric([name], 0 if name in snap.errors else 1)
        seconds.add_metric([name], duration)
    yield up
    yield seconds


FAMILIES = (
    _queues,
    _outbox,
    _webhooks,
    _beat,
    _workers,
    _credits_invariant,
    _backup,
    _throttled,
    _probe_health,
)


class SnapshotCollector:
    """A prometheus_client collector over one snapshot."""

    def __init__(self, snap: probes.Snapshot):
        self.snap = snap

    def collect(self):
        for family in FAMILIES:
            yield from family(self.snap)


def exposition() -> bytes:
    """Everything /metrics answers, in Prometheus' text format."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        requests = CollectorRegistry()
        multiprocess.MultiProcessCollector(requests)
    else:
        requests = REGISTRY
    machinery = CollectorRegistry(auto_describe=False)
    machinery.register(SnapshotCollector(probes.snapshot()))
    return generate_latest(requests) + generate_latest(machinery)


def _authorized(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


@never_cache
@require_GET
def metrics(request):
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off: METRICS_TOKEN is not set.")
    if not _authorized(request):
        return HttpResponse("A bearer token is required.\n", status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
