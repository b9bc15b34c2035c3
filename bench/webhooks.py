"""Stripe webhook acknowledgement latency at fixed rates, vs GET /healthz/ at the same rates.

    .venv/bin/python -m bench.webhooks [--rate 100] [--seconds 10] [--sweep 200,300,400,600]
                                       [--sweep-seconds 4] [--workers N]

1. A scratch database ``bench_webhooks`` (cloned from the migrated template); gunicorn serves
   ``config.wsgi`` on a free 127.0.0.1 port with the bench settings and a webhook signing
   secret made for this run (workers and DB_CONN_MAX_AGE as in bench.api). No Stripe key is
   set, so nothing can reach Stripe's API.
2. Distinct events (customer, invoice, checkout session, subscription and charge events built
   from Stripe's published example objects) are signed as Stripe signs them
   (``billing.stripe.signature.sign_header``: HMAC-SHA256 over "t.body") and POSTed to
   /webhooks/stripe/ open-loop (``bench.openloop``: sender processes; each request leaves at
   its due time whatever the server does, and its latency counts from that time).
3. Every worker is warmed first (``/healthz/``, then signed events: its first statement and
   its publisher thread), outside the figures. Then ``--rate`` (100/s) for ``--seconds``:
   the p99 there should stay under 50 ms. Then
   the ``--sweep`` rates, ``--sweep-seconds`` each, upwards until p99 reaches 50 ms or a
   request fails: the highest rate that stayed under is the second figure.
4. Baseline: the same sender at the same rates against GET /healthz/ on the same gunicorn
   (a database round trip, a broker check and the migration plan: the cheapest request that
   touches what the webhook touches), alternating with the webhook runs rate by rate.
5. The view verifies, stores the event with its outbox row in one statement and answers;
   each gunicorn worker's publisher thread publishes the processing task (no request waits
   for it), and the suite waits for the outbox to empty before it stops gunicorn. No Celery
   worker runs: the broker is kombu's filesystem transport in the bench's own folder
   (``bench.settings``). The suite checks that every acknowledged event is a row and every
   row a queued message, then empties the folder.
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
    Result,
    bench_queue_messages,
    empty_bench_queue,
    run_main,
    scratch_database,
    setup_django,
    write_results,
)
from bench.server import (  # noqa: E402
    Gunicorn,
    add_server_arguments,
    default_gunicorn_workers,
    server_env,
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
    from billing.tests.stripe_objects import example, wrap_event  # noqa: PLC0415 - Django is set up when the bench runs

    resource, event_type = EVENT_KINDS[index % len(EVENT_KINDS)]
    obj = example(resource, id=f"{example(resource)['id']}_{run_id}_{index}")
    return wrap_event(obj, event_type, event_id=f"evt_bench_{run_id}_{index:06d}")


def signed_delivery(event: dict, *, secret: str, timestamp: int | None = None) -> openloop.Request:
    """The POST Stripe would make for ``event``: raw JSON body and its Stripe-Signature."""
    from billing.stripe.signature import sign_header  # noqa: PLC0415 - Django is set up when the bench runs

    body = json.dumps(event).encode()
    return openloop.Request(
        "POST",
        WEBHOOK_PATH,
        body,
        {
            "Content-Type": "application/json",
            "Stripe-Signature": sign_header(secret=secret, body=body, timestamp=timestamp),
        },
    )


P99_LIMIT_MS = 50.0


def _events(run_id: str, step: int, count: int, secret: str) -> list[openloop.Request]:
    # Signed now, as Stripe signs at delivery: the view refuses signatures older than 5 min.
    return [
        signed_delivery(stripe_event(step * 1_000_000 + i, run_id), secret=secret)
        for i in range(count)
    ]


def _kept_under(outcome: openloop.Outcome) -> bool:
    return not outcome.failed and outcome.p(99) < P99_LIMIT_MS


def _sweep(
    app_url: str, steps: list[tuple[float, float]], run_id: str, secret: str, processes: int
) -> tuple[dict, dict]:
    """/healthz/ and webhooks at each (rate, seconds) step in turn (so both see the same
    moments of the machine's load), each until its p99 reaches the limit. Returns
    {rate: Outcome} for each."""
    health, hooks = {}, {}
    for step, (rate, seconds) in enumerate(steps, 1):
        count = int(rate * seconds)
        if all(_kept_under(o) for o in health.values()):
            health[rate] = openloop.run(
                app_url,
                [openloop.Request("GET", "/healthz/")] * count,
                rate=rate,
                processes=processes,
            )
            print(f"  /healthz/          {health[rate].summary()}", flush=True)
        if all(_kept_under(o) for o in hooks.values()):
            hooks[rate] = openloop.run(
                app_url, _events(run_id, step, count, secret), rate=rate, processes=processes
            )
            print(f"  /webhooks/stripe/  {hooks[rate].summary()}", flush=True)
        if not (_kept_under(health[max(health)]) or _kept_under(hooks[max(hooks)])):
            break
    return health, hooks


def _highest(outcomes: dict) -> float:
    return max((rate for rate, outcome in outcomes.items() if _kept_under(outcome)), default=0)


def _serve_and_sweep(args, url: str, workers: int, rates: list, run_id: str, secret: str):
    """Gunicorn on the scratch database, warmed, then the sweep of rates; (health, hooks, warm):
    the outcomes per rate, once the workers have published what they queued, and how many
    warm-up events were acknowledged (stored and queued too, outside the figures)."""
    env = server_env(
        url,
        conn_max_age=args.conn_max_age,
        STRIPE_WEBHOOK_SECRET=secret,
        STRIPE_SECRET_KEY="",
        STRIPE_API_BASE="",
    )
    with Gunicorn(
        "config.wsgi:application", env=env, workers=workers, ready_path="/healthz/"
    ) as app:
        # Warm every worker (imports, first connection) before any run, then its webhook path
        # (the view's first statement, the publisher thread): discarded, as the API suite's
        # warm-up, so the figures are of workers in service, not of workers starting.
        openloop.run(
            app.url,
            [openloop.Request("GET", "/healthz/")] * (4 * workers),
            rate=args.rate,
            processes=args.processes,
        )
        warm = openloop.run(
            app.url,
            _events(run_id, 0, 4 * workers, secret),
            rate=args.rate,
            processes=args.processes,
        )
        steps = [
            (args.rate, args.seconds),
            *((rate, args.sweep_seconds) for rate in rates[1:]),
        ]
        health, hooks = _sweep(app.url, steps, run_id, secret, args.processes)
        # The workers' publisher threads publish after answering: let them finish.
        _wait_published(timeout=60)
    return health, hooks, warm.ok


def _check(args, at_rate, health_at_rate, acknowledged: int, stored: int, queued: int) -> None:
    """Stop (SystemExit) when requests failed at the rate or the inbox lost or duplicated
    work; a note when the health endpoint itself was slow."""
    problems = []
    if at_rate.failed or health_at_rate.failed:
        problems.append(
            f"at {args.rate:g}/s {at_rate.failed} webhook and "
            f"{health_at_rate.failed} health requests failed (statuses "
            f"{dict(at_rate.statuses)}, errors {dict(at_rate.errors)})"
        )
    # A request the sender gave up on may still have been stored (and queued) by the server.
    if stored < acknowledged or queued != stored:
        problems.append(f"{acknowledged} acknowledged but {stored} stored and {queued} queued")
    if problems:
        raise SystemExit("webhooks: " + "; ".join(problems))
    if health_at_rate.failed == 0 and not _kept_under(health_at_rate):
        print(
            f"  note: /healthz/ itself was over {P99_LIMIT_MS:g} ms at p99 at {args.rate:g}/s:"
            " the machine is busy",
            flush=True,
        )


def run(args) -> list[Result]:
    from billing.models import WebhookEvent  # noqa: PLC0415 - Django is set up when the bench runs

    workers = args.workers or default_gunicorn_workers()
    rates = [args.rate, *sorted(r for r in args.sweep if r > args.rate)]
    run_id = secrets.token_hex(4)
    secret = f"whsec_bench_{secrets.token_hex(16)}"
    print(
        f"webhooks: {args.rate:g}/s for {args.seconds:g} s, then {rates[1:]} for "
        f"{args.sweep_seconds:g} s each, to gunicorn ({workers} sync workers, "
        f"DB_CONN_MAX_AGE={args.conn_max_age}); {args.processes} sender processes",
        flush=True,
    )
    empty_bench_queue()
    with scratch_database(DATABASE) as url:
        try:
            health, hooks, warm = _serve_and_sweep(args, url, workers, rates, run_id, secret)
            stored = WebhookEvent.objects.filter(
                stripe_event_id__startswith=f"evt_bench_{run_id}_"
            ).count()
            queued = bench_queue_messages()
        finally:
            empty_bench_queue()
    acknowledged = warm + sum(outcome.ok for outcome in hooks.values())
    print(
        f"  inbox: {acknowledged} acknowledged ({warm} of them warming up), {stored} events "
        f"stored, {queued} processing tasks queued on the broker (no worker ran)",
        flush=True,
    )
    at_rate, health_at_rate = hooks[args.rate], health[args.rate]
    _check(args, at_rate, health_at_rate, acknowledged, stored, queued)
    baseline = "GET /healthz/ at the same rates"
    return [
        Result(
            "webhooks",
            f"ack latency p99 at {args.rate:g}/s",
            at_rate.p(99),
            health_at_rate.p(99),
            "ms",
            baseline,
            higher_is_better=False,
            target=f"ours < {P99_LIMIT_MS:g}",
        ),
        Result(
            "webhooks",
            f"highest rate with p99 < {P99_LIMIT_MS:g} ms (of {rates[-1]:g}/s)",
            _highest(hooks),
            _highest(health),
            "/s",
            baseline,
            target=f"ours >= {args.rate:g}",
        ),
    ]


def _wait_published(*, timeout: float) -> None:
    """Until every outbox row is published, or ``timeout`` seconds (then the count below
    shows the shortfall)."""
    from core.outbox.models import OutboxMessage  # noqa: PLC0415 - Django is set up when the bench runs

    deadline = time.monotonic() + timeout
    while (
        OutboxMessage.objects.filter(published_at__isnull=True).exists()
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)


def _rates(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="the rate whose p99 is the headline, events per second",
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="how long the headline rate is sent"
    )
    parser.add_argument(
        "--sweep",
        type=_rates,
        default=_rates("200,300,400,600,800"),
        help="higher rates tried in turn until p99 reaches 50 ms (comma-separated; empty: none)",
    )
    parser.add_argument(
        "--sweep-seconds", type=float, default=4.0, help="how long each sweep rate is sent"
    )
    parser.add_argument("--processes", type=int, default=2, help="sender processes")
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
