"""API throughput: locust against gunicorn on loopback, each endpoint vs a constant DRF view.

    .venv/bin/python -m bench.api [--seconds 8] [--warmup 2] [--users 10] [--workers N]

1. A scratch database ``bench_api`` (cloned from the migrated template): the demo catalog
   (``seed_catalog``), the metered operations (``seed_credits``), one customer with an API
   key and ten million credits; the low-balance e-mail is off there, so no task is queued.
2. gunicorn serves ``config.wsgi`` with the bench settings (DEBUG off, as in production) on a
   free 127.0.0.1 port, ``--workers`` sync workers (default 2 x cores + 1, gunicorn's own
   advice), database connections kept for ``--conn-max-age`` seconds (DB_CONN_MAX_AGE,
   default 60; 0 is the settings' default, a new connection per request).
3. locust (``bench.locust_driver``, a process of its own) runs ``--users`` closed-loop users
   against one endpoint at a time: the product list with the API key (the database path)
   and without one (anonymous readers get the catalog's public cache), the credits summary,
   and a consume (a write: lock, draw, ledger row), with ``Authorization: Bearer <key>``.
4. Bounds, informing without a target: the same constant body behind the API's key
   authentication, permissions and throttles (``bench.urls.KeyedConstantView``): what an
   authenticated endpoint pays before its own work; and that view plus the consume's one
   prepared statement (``bench.urls.KeyedConsumeCallView``): the least a Django view pays for
   a consume, with no serializer and no service.
5. Baseline: the same locust settings against ``bench.urls.ConstantView`` on the same
   gunicorn: a DRF view without authentication or database that answers a constant JSON
   body, behind the same middleware and throttles. It is measured first and last; the
   baseline is their mean, so load that changes during the run shows as their difference.
   Each endpoint's target is half the baseline's rate.

The generator shares the machine's cores with gunicorn and PostgreSQL; on 2 cores that costs
every figure (the baseline's too), which is why only ratios are compared between machines.
"""

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/api.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    Result,
    die_with_parent,
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

DATABASE = "bench_api"
OPERATION = "AI_TEXT_CHAT"


def seed() -> str:
    """The catalog, the costs and one customer with credits and a plan that includes API
    access; returns the raw API key."""
    from django.core.management import call_command  # noqa: PLC0415 - Django is set up when the bench runs

    from accounts.models import User  # noqa: PLC0415 - Django is set up when the bench runs
    from accounts.services import create_api_key, set_config  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.models import GrantSource  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.services import grant_credits  # noqa: PLC0415 - Django is set up when the bench runs

    call_command("seed_catalog", verbosity=0, stdout=io.StringIO())
    call_command("seed_credits", verbosity=0, stdout=io.StringIO())
    set_config(key="low_balance_threshold", value=0, actor=None)
    user = User.objects.create_user("api-bench@bench.test", None)
    grant_credits(
        user=user, amount=10_000_000, source=GrantSource.PROMO, idempotency_key="bench:api"
    )
    _subscribe_with_api_access(user)
    _key, raw = create_api_key(user=user, name="bench")
    return raw


def _subscribe_with_api_access(user) -> None:
    """An API key works with a plan that includes api_access: the seeded Business plan."""
    from django.utils import timezone  # noqa: PLC0415 - Django is set up when the bench runs

    from billing.models import BillingSource, Subscription, SubscriptionStatus  # noqa: PLC0415 - Django is set up when the bench runs
    from catalog.models import Plan  # noqa: PLC0415 - Django is set up when the bench runs

    now = timezone.now()
    Subscription.objects.create(
        user=user,
        plan=Plan.objects.get(slug="business"),
        status=SubscriptionStatus.ACTIVE,
        billing_source=BillingSource.MANUAL,
        current_period_start=now,
        current_period_end=now + timezone.timedelta(days=365),
    )


# Each endpoint's req/s should reach this share of the constant DRF view's.
TARGET = "ratio >= 0.5"


def baseline_target() -> dict:
    from bench.urls import CONSTANT_PATH  # noqa: PLC0415 - Django is set up when the bench runs

    return {"name": "constant DRF view", "method": "GET", "path": CONSTANT_PATH, "expect": 200}


KEYED_CONSTANT = "constant DRF view with API-key auth, permissions, throttles"
KEYED_CONSUME_CALL = "keyed view calling the consume function (no serializer, no service)"
# Rows that bound others and inform, without a target.
BOUNDS = (KEYED_CONSTANT, KEYED_CONSUME_CALL)


def targets(raw_key: str) -> list[dict]:
    from bench.urls import KEYED_CONSTANT_PATH, KEYED_CONSUME_CALL_PATH  # noqa: PLC0415 - Django is set up when the bench runs

    auth = {"Authorization": f"Bearer {raw_key}"}
    return [
        {
            "name": KEYED_CONSTANT,
            "method": "GET",
            "path": KEYED_CONSTANT_PATH,
            "headers": auth,
            "expect": 200,
        },
        {
            "name": "GET /api/v1/products/ (API key)",
            "method": "GET",
            "path": "/api/v1/products/",
            "headers": auth,
            "expect": 200,
        },
        {
            "name": "GET /api/v1/products/ (anonymous, cached)",
            "method": "GET",
            "path": "/api/v1/products/",
            "expect": 200,
        },
        {
            "name": "GET /api/v1/credits/",
            "method": "GET",
            "path": "/api/v1/credits/",
            "headers": auth,
            "expect": 200,
        },
        {
            "name": "POST /api/v1/credits/consume/",
            "method": "POST",
            "path": "/api/v1/credits/consume/",
            "headers": {**auth, "Content-Type": "application/json"},
            "body": {"operation": OPERATION, "quantity": 1},
            "expect": 201,
        },
        {
            "name": KEYED_CONSUME_CALL,
            "method": "POST",
            "path": KEYED_CONSUME_CALL_PATH,
            "headers": {**auth, "Content-Type": "application/json"},
            "body": {"operation": OPERATION},
            "expect": 201,
        },
    ]


def drive(host: str, target_list: list[dict], args) -> list[dict]:
    """Run locust in its own process against ``host``; one result per target."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        spec_path, out_path = Path(folder) / "spec.json", Path(folder) / "out.json"
        spec_path.write_text(
            json.dumps(
                {
                    "host": host,
                    "users": args.users,
                    "warmup": args.warmup,
                    "seconds": args.seconds,
                    "targets": target_list,
                }
            )
        )
        subprocess.run(
            [sys.executable, "-m", "bench.locust_driver", str(spec_path), str(out_path)],
            cwd=ROOT,
            check=True,
            preexec_fn=die_with_parent,
        )
        return json.loads(out_path.read_text())


def _print(measured: dict) -> None:
    print(
        f"  {measured['name']:<42} {measured['rps']:8.0f} req/s   p50 {measured['p50_ms']:5.0f}"
        f" ms  p95 {measured['p95_ms']:5.0f} ms  p99 {measured['p99_ms']:5.0f} ms   "
        f"{measured['requests']} requests, {measured['failures']} failed",
        flush=True,
    )
    for error in measured["errors"]:
        print(f"    error: {error}")


def run(args) -> list[Result]:
    workers = args.workers or default_gunicorn_workers()
    print(
        f"api: gunicorn {workers} sync workers (DB_CONN_MAX_AGE={args.conn_max_age}), "
        f"locust {args.users} users, {args.warmup:g}+{args.seconds:g} s per endpoint",
        flush=True,
    )
    with scratch_database(DATABASE) as url:
        raw_key = seed()
        env = server_env(url, conn_max_age=args.conn_max_age)
        with Gunicorn(
            "config.wsgi:application", env=env, workers=workers, ready_path="/healthz/"
        ) as app:
            first, *measured, last = drive(
                app.url, [baseline_target(), *targets(raw_key), baseline_target()], args
            )
    for row in (first, *measured, last):
        _print(row)
    base = (first["rps"] + last["rps"]) / 2
    print(f"  baseline: {base:.0f} req/s (first {first['rps']:.0f}, last {last['rps']:.0f})")
    failures = sum(row["failures"] for row in (first, *measured, last))
    if failures:
        raise SystemExit(f"api: {failures} requests failed; see above")
    return [
        Result(
            "api",
            f"{row['name']} throughput",
            row["rps"],
            base,
            "req/s",
            "constant DRF view, same gunicorn",
            # The bounds only inform: the keyed constant view bounds every authenticated row,
            # the keyed consume call the consume endpoint.
            target="" if row["name"] in BOUNDS else TARGET,
        )
        for row in measured
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="discarded time per endpoint")
    parser.add_argument("--users", type=int, default=10, help="concurrent locust users")
    add_server_arguments(parser)
    parser.add_argument("--json", help="also write the result rows to this file")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args()
    setup_django()
    write_results(args.json, run(args))


if __name__ == "__main__":
    run_main(main)
