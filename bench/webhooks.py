"""Stripe webhook acknowledgement latency at a fixed rate (100 events/s), vs /healthz/.

    .venv/bin/python -m bench.webhooks [--rate 100] [--seconds 10] [--workers N]

1. A scratch database ``bench_webhooks`` (cloned from the migrated template); gunicorn serves
   ``config.wsgi`` on a free 127.0.0.1 port with the bench settings and a webhook signing
   secret made for this run (workers and DB_CONN_MAX_AGE as in bench.api). No Stripe key is
   set, so nothing can reach Stripe's API.
2. ``rate x seconds`` distinct events (customer, invoice, checkout session, subscription and
   charge events built from Stripe's published example objects) are signed as Stripe signs
   them (``billing.webhooks.sign_header``: HMAC-SHA256 over "t.body") and POSTed to
   /webhooks/stripe/ open-loop (``bench.openloop``: each leaves at its due time whatever the
   server does; latency counts from that time).
3. The view only verifies, stores the event in the inbox and queues its processing on commit;
   no Celery worker runs. The broker is kombu's filesystem transport in the bench's own
   folder (``bench.settings``): the suite checks that every acknowledged event is a row and
   a queued message, then empties the folder.
4. Baseline: the same sender at the same rate against GET /healthz/ on the same gunicorn
   (a database round trip, a broker check and the migration plan: the cheapest request that
   touches what the webhook touches).
"""

import argparse
import json
import secrets
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/webhooks.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import openloop  # noqa: E402
from bench.common import (  # noqa: E402
    Gunicorn,
    Result,
    add_server_arguments,
    bench_queue_messages,
    default_gunicorn_workers,
    empty_bench_queue,
    run_main,
    scratch_database,
    server_env,
    setup_django,
    write_results,
)

DATABASE = "bench_webhooks"
WEBHOOK_PATH = "/webhooks/stripe/"
# (example object, event type): a mix of what a live account sends most.
EVENT_KINDS = [
    ("customer", "customer.updated"),
    ("invoice", "invoice.paid"),
    ("checkout.session", "checkout.session.completed"),
    ("subscription", "customer.subscription.updated"),
    ("charge", "charge.succeeded"),
]


def stripe_event(index: int, run_id: str) -> dict:
    """A distinct Stripe event (unique id) around one of Stripe's example objects."""
    from billing.tests.stripe_double import example, wrap_event

    resource, event_type = EVENT_KINDS[index % len(EVENT_KINDS)]
    obj = example(resource, id=f"{example(resource)['id']}_{run_id}_{index}")
    return wrap_event(obj, event_type, event_id=f"evt_bench_{run_id}_{index:06d}")


def signed_delivery(event: dict, *, secret: str, timestamp: int | None = None
                    ) -> openloop.Request:
    """The POST Stripe would make for ``event``: raw JSON body and its Stripe-Signature."""
    from billing.webhooks import sign_header

    body = json.dumps(event).encode()
    return openloop.Request("POST", WEBHOOK_PATH, body, {
        "Content-Type": "application/json",
        "Stripe-Signature": sign_header(secret=secret, body=body, timestamp=timestamp),
    })


def run(args) -> list[Result]:
    from billing.models import WebhookEvent

    workers = args.workers or default_gunicorn_workers()
    count = int(args.rate * args.seconds)
    run_id = secrets.token_hex(4)
    secret = f"whsec_bench_{secrets.token_hex(16)}"
    print(f"webhooks: {count} events at {args.rate:g}/s to gunicorn ({workers} sync workers, "
          f"DB_CONN_MAX_AGE={args.conn_max_age})", flush=True)
    empty_bench_queue()
    with scratch_database(DATABASE) as url:
        env = server_env(url, conn_max_age=args.conn_max_age, STRIPE_WEBHOOK_SECRET=secret,
                         STRIPE_SECRET_KEY="", STRIPE_API_BASE="")
        try:
            with Gunicorn("config.wsgi:application", env=env, workers=workers,
                          ready_path="/healthz/") as app:
                # Warm every worker (imports, first connection) before either run.
                openloop.run(app.url, [openloop.Request("GET", "/healthz/")] * (2 * workers),
                             rate=args.rate)
                health = openloop.run(app.url, [openloop.Request("GET", "/healthz/")] * count,
                                      rate=args.rate)
                print(f"  /healthz/          {health.summary()}", flush=True)
                # Signed now, as Stripe signs at delivery: the view refuses signatures older
                # than 5 minutes, however long the run above took.
                deliveries = [signed_delivery(stripe_event(i, run_id), secret=secret)
                              for i in range(count)]
                hooks = openloop.run(app.url, deliveries, rate=args.rate)
                print(f"  /webhooks/stripe/  {hooks.summary()}", flush=True)
            stored = WebhookEvent.objects.filter(
                stripe_event_id__startswith=f"evt_bench_{run_id}_").count()
            received = WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).count()
            queued = bench_queue_messages()
        finally:
            empty_bench_queue()
    print(f"  inbox: {stored} events stored ({received} still 'received': no worker ran), "
          f"{queued} processing tasks queued on the broker", flush=True)
    problems = []
    if hooks.failed or health.failed:
        problems.append(f"{hooks.failed} webhook and {health.failed} health requests failed "
                        f"(statuses {dict(hooks.statuses)}, errors {dict(hooks.errors)})")
    if stored != hooks.ok or queued != hooks.ok:
        problems.append(f"{hooks.ok} acknowledged but {stored} stored and {queued} queued")
    if problems:
        raise SystemExit("webhooks: " + "; ".join(problems))
    baseline = "GET /healthz/ at the same rate"
    # Below the rate sent, the server fell behind and latencies measure the backlog.
    kept_up = Result("webhooks", f"acknowledged/s (sent {args.rate:g}/s)", hooks.achieved_rate,
                     health.achieved_rate, "/s", baseline)
    return [kept_up, *(Result("webhooks", f"ack latency p{q}", hooks.p(q), health.p(q), "ms",
                              baseline, higher_is_better=False) for q in (50, 95, 99))]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each run sends")
    add_server_arguments(parser)
    parser.add_argument("--json", help="also write the result rows to this file")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args()
    setup_django()
    started = time.perf_counter()
    write_results(args.json, run(args))
    print(f"webhooks: done in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    run_main(main)
