"""The benchmark harness computes what it reports, and its webhooks are ones we accept.

Not a benchmark run: the arithmetic, the table, the open-loop sender against a tiny local
server, and the webhook bench's signed delivery through the real view.
"""

import json
import math
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from accounts.services import create_api_key
from bench import openloop
from bench.common import (
    Result,
    format_number,
    format_table,
    percentile,
    ratio,
    read_results,
    write_results,
)
from bench.seeding import grown
from bench.urls import KEYED_CONSTANT_PATH, KEYED_CONSUME_CALL_PATH
from bench.webhooks import WEBHOOK_PATH, signed_delivery, stripe_event
from billing.factories import give_api_access
from billing.models import WebhookEvent
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance

SECRET = f"whsec_{secrets.token_hex(16)}"


def test_percentile_interpolates_between_ranks_like_numpy():
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 0) == 15
    assert percentile(values, 100) == 50
    assert percentile(values, 50) == 35
    assert percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile(values, 40)
    assert percentile([4, 1, 3, 2], 50) == 2.5  # unsorted input
    assert percentile([7], 99) == 7
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_ratio_is_ours_over_baseline_and_undefined_without_a_baseline():
    assert ratio(50, 200) == 0.25
    assert Result("s", "m", 30.0, 10.0, "ms", "b", higher_is_better=False).ratio == 3.0
    assert math.isnan(ratio(5, 0))


def test_table_has_one_aligned_row_per_result_with_units_ratio_target_and_met():
    results = [
        Result(
            "api",
            "GET /x throughput",
            123.456,
            1234.5,
            "req/s",
            "constant DRF view",
            target="ratio >= 0.5",
        ),
        Result(
            "webhooks",
            "ack latency p99",
            8.25,
            4.0,
            "ms",
            "GET /healthz/",
            higher_is_better=False,
            target="ours < 50",
        ),
        Result("rollup", "informative", 3.0, 2.0, "ms", "hand-written", higher_is_better=False),
    ]
    lines = format_table(results).splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:-1]] == [
        "suite",
        "metric",
        "ours",
        "baseline",
        "ratio",
        "target",
        "met",
        "baseline is",
    ]
    assert set(lines[1]) <= {"|", "-", ":"}
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines[2:]]
    assert cells == [
        [
            "api",
            "GET /x throughput",
            "123 req/s",
            "1,234 req/s",
            "0.10x",
            ">= 0.50x",
            "NOT met",
            "constant DRF view",
        ],
        [
            "webhooks",
            "ack latency p99",
            "8.25 ms",
            "4.00 ms",
            "2.06x",
            "< 50 ms",
            "met",
            "GET /healthz/",
        ],
        ["rollup", "informative", "3.00 ms", "2.00 ms", "1.50x", "-", "-", "hand-written"],
    ]
    assert len({len(line) for line in lines}) == 1  # every column lines up


def test_targets_apply_to_the_ratio_or_to_our_figure():
    assert Result("s", "m", 60, 100, "req/s", "b", target="ratio >= 0.5").met is True
    assert Result("s", "m", 40, 100, "req/s", "b", target="ratio >= 0.5").met is False
    assert Result("s", "m", 70, 10, "s", "b", False, target="ours <= 60").met is False
    assert Result("s", "m", 60, 10, "s", "b", False, target="ours <= 60").met is True
    assert Result("s", "m", 5, 0, "ms", "b", False, target="ratio <= 1.5").met is False
    assert Result("s", "m", 5, 1, "ms", "b").met is None
    with pytest.raises(ValueError):
        Result("s", "m", 5, 1, "ms", "b", target="fast enough")


def test_numbers_keep_three_significant_figures():
    assert [format_number(v) for v in (73570.4, 883.2, 42.42, 3.14159, 0.01234)] == [
        "73,570",
        "883",
        "42.4",
        "3.14",
        "0.0123",
    ]
    assert format_number(math.nan) == "n/a"


def test_results_survive_the_trip_through_the_suite_json_file(tmp_path):
    rows = [
        Result("seeding", "seed_demo", 883.0, 73570.0, "rows/s", "COPY"),
        Result("api", "GET /x", 600.0, 1000.0, "req/s", "constant", target="ratio >= 0.5"),
        Result("rollup", "none yet", 1.0, 0.0, "ms", "hand", higher_is_better=False),
    ]
    path = tmp_path / "suite.json"
    write_results(str(path), rows)
    assert read_results(path) == rows
    written = json.loads(path.read_text())
    assert list(written[1])[:7] == ["suite", "metric", "ours", "baseline", "ratio", "target", "met"]
    assert (written[1]["ratio"], written[1]["target"], written[1]["met"]) == (
        0.6,
        "ratio >= 0.5",
        True,
    )
    assert (written[0]["target"], written[0]["met"]) == ("", None)
    assert written[2]["ratio"] is None  # no baseline: null, not NaN (which JSON lacks)


def test_grown_counts_only_tables_that_gained_rows():
    assert grown({"a": 1, "b": 5, "c": 2}, {"a": 4, "b": 5, "c": 1, "d": 3}) == {"a": 3, "d": 3}


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn's clients would see it

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        status = 400 if self.path == "/bad" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):  # keep the test output clean
        pass


def test_open_loop_sender_sends_every_request_at_its_rate_and_counts_failures():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        requests = [
            openloop.Request("POST", "/bad" if i % 10 == 9 else "/ok", b"{}") for i in range(40)
        ]
        # Two sender processes share the requests out: every one is sent once.
        outcome = openloop.run(
            f"http://127.0.0.1:{server.server_port}", requests, rate=200, senders=4, processes=2
        )
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.planned == 40 and len(outcome.latencies_ms) == 40
    assert outcome.statuses == {200: 36, 400: 4}
    assert outcome.ok == 36 and outcome.failed == 4 and not outcome.errors
    # The last request is due 39 / 200 s after the first: open loop, the run cannot be shorter
    # (how much longer depends on the machine's load, so no upper bound is asserted).
    assert outcome.seconds >= 0.195
    assert outcome.achieved_rate <= 40 / 0.195
    assert all(latency > 0 for latency in outcome.latencies_ms)


@pytest.mark.django_db
def test_the_webhook_bench_delivery_is_accepted_and_stored_by_the_real_view(client, settings):
    settings.STRIPE = {**settings.STRIPE, "webhook_secret": SECRET}
    event = stripe_event(3, "smoke")
    delivery = signed_delivery(event, secret=SECRET)

    response = client.post(
        WEBHOOK_PATH,
        data=delivery.body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=delivery.headers["Stripe-Signature"],
    )

    assert response.status_code == 200
    stored = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert stored.type == "customer.subscription.updated"
    assert stored.payload == event


@pytest.mark.django_db
def test_a_bench_delivery_signed_with_another_secret_is_refused(client, settings):
    settings.STRIPE = {**settings.STRIPE, "webhook_secret": SECRET}
    delivery = signed_delivery(stripe_event(0, "smoke"), secret=f"whsec_{secrets.token_hex(16)}")

    response = client.post(
        WEBHOOK_PATH,
        data=delivery.body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=delivery.headers["Stripe-Signature"],
    )

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_api_bench_bound_views_answer_and_the_consume_call_charges(settings):
    """The API bench's bound rows measure what they say: the keyed constant view needs the
    key, and the keyed consume call runs the consume's statement (the balance drops)."""
    settings.ROOT_URLCONF = "bench.urls"
    FeatureCostFactory(operation="BENCH_OP", cost=4)
    customer = funded_user(credits=50)
    give_api_access(customer)
    _key, raw = create_api_key(user=customer, name="bench")
    keyed = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert APIClient().get(KEYED_CONSTANT_PATH).status_code == 401
    assert keyed.get(KEYED_CONSTANT_PATH).json() == {"status": "ok"}
    response = keyed.post(KEYED_CONSUME_CALL_PATH, {"operation": "BENCH_OP"}, format="json")

    assert response.status_code == 201
    assert CreditBalance.objects.get(user=customer).balance == 46
