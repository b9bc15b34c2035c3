"""History: do the pages people use every day stay as fast once the ledger holds a million rows?

    .venv/bin/python -m bench.history [--rows 1000000] [--customers M] [--repeat 7]
                                      [--generator auto|seed_history|copy] [--keep]

1. A scratch database ``bench_history`` (cloned from the migrated template) with the demo data
   (``seed_demo``, as ``make run`` loads it; the demo passwords come from
   .data/demo-credentials.json as for ``make seed``), and a copy of it, ``bench_history_after``.
2. History, in the copy: ``manage.py seed_history --rows N`` when the project has it (the
   first customer by id, alice@demo.example, takes the largest share); otherwise (or
   ``--generator copy``) the bench's generator (``bench.history_rows``): ``--rows`` ledger
   rows for that customer, one a minute back from their first demo row, and ``--customers``
   new customers with ``--rows-per-customer`` rows each, written with COPY (grants of 9
   followed by nine consumptions of 1, one emptied lot per grant, so the books still agree).
   The credits invariant and the daily sums (``credits_ledgerday``, kept by a trigger during
   the writes) are checked against the ledger. Both databases are vacuumed and analyzed, so
   autovacuum does not share the cores with the timed requests.
3. Timings: ``--repeat`` rounds, each visiting every page on the demo database and on the copy
   in turn (one untimed request, then one timed), through Django's test client in this
   process with the bench settings (DEBUG off); the median per page and database. Pages: the
   staff console's credit ledger, the ledger searched by the heavy customer's e-mail, its
   users and orders lists, the analytics dashboard and, as the heavy customer, ``/credits/``
   and ``GET /api/v1/credits/`` (with an API key). Alternating keeps a change in the
   machine's load during the run from landing on one side only.
4. The heavy customer's data export (``/account/export/download/``) from each database, each
   in a process of its own whose peak resident memory is read from the kernel
   (``ru_maxrss``).

Each row of the table is after / before (the copy / the demo data), target 1.5x at most.

Not part of the test suite; timings depend on the machine, the ratios are what compare.
"""

import argparse
import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a file: python bench/history.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    Result,
    database_url,
    die_with_parent,
    drop_database,
    run_main,
    scratch_database,
    setup_django,
    write_results,
)
from bench.history_rows import check_books, seed_history, settle  # noqa: E402
from bench.server import server_env  # noqa: E402

DATABASE = "bench_history"  # the demo data
AFTER = "bench_history_after"  # a copy of it, plus the history
STAFF = "admin@demo.example"
TARGET = "ratio <= 1.5"  # after / before, per page and for the export's memory
BASELINE = "the same on the demo data"


def pages(heavy_email: str) -> list[tuple[str, str, str]]:
    """(name, who, path): who is "staff", "customer" (session) or "api" (API key)."""
    return [
        ("admin credit ledger list", "staff", "/admin/credits/credittransaction/"),
        (
            "admin ledger search ?q=<email>",
            "staff",
            f"/admin/credits/credittransaction/?{urlencode({'q': heavy_email})}",
        ),
        ("heavy customer's /credits/", "customer", "/credits/"),
        ("GET /api/v1/credits/ (summary)", "api", "/api/v1/credits/"),
        ("admin users list", "staff", "/admin/accounts/user/"),
        ("admin orders list", "staff", "/admin/billing/order/"),
        ("analytics dashboard", "staff", "/admin/analytics/"),
    ]


# --- the demo data and the clients ------------------------------------------------------------


def seed_demo() -> None:
    from django.core.management import call_command  # noqa: PLC0415 - Django is set up when the bench runs

    quiet = io.StringIO()
    t0 = time.perf_counter()
    # The console e-mail backend writes the demo's e-mails to sys.stdout itself.
    with contextlib.redirect_stdout(quiet):
        call_command("seed_demo", stdout=quiet, stderr=quiet)
    print(f"  seed_demo in {time.perf_counter() - t0:.0f}s", flush=True)


def heavy_customer():
    """The first active customer by id: the one ``seed_history`` gives the largest share of
    the history (alice@demo.example in the demo data), and the bench's generator too."""
    from accounts.models import Role, Status, User  # noqa: PLC0415 - Django is set up when the bench runs

    return User.objects.filter(role=Role.CUSTOMER, status=Status.ACTIVE).order_by("id").first()


def clients(heavy) -> dict:
    """A test client per kind of visitor, signed in (the host is one the settings allow)."""
    from django.test import Client  # noqa: PLC0415 - Django is set up when the bench runs

    from accounts.models import User  # noqa: PLC0415 - Django is set up when the bench runs
    from accounts.services import create_api_key  # noqa: PLC0415 - Django is set up when the bench runs

    staff = User.objects.get(email=STAFF)
    found = {"staff": Client(HTTP_HOST="localhost"), "customer": Client(HTTP_HOST="localhost")}
    found["staff"].force_login(staff)
    found["customer"].force_login(heavy)
    _key, raw = create_api_key(user=heavy, name="bench history")
    found["api"] = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {raw}")
    return found


class QueryCounter:
    """``connection.execute_wrapper`` that counts the statements run through it."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def switch(name: str) -> None:
    """Point this process's connection at database ``name`` (closed; reopened on next use)."""
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    connection.close()
    connection.settings_dict["NAME"] = name


def clone(source: str, target: str, *, via: str) -> None:
    """CREATE DATABASE ``target`` as a copy of ``source``, from database ``via`` (PostgreSQL
    copies a database only while no one is connected to it). Leaves the connection on
    ``source``."""
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    switch(via)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    switch(source)


def measure_pages(
    found: dict, heavy_email: str, repeat: int, databases: dict[str, str]
) -> dict[str, dict[str, float]]:
    """Median milliseconds per page and database ({label: {page: ms}}), over ``repeat``
    rounds that visit every page on each database in turn, so a change in the machine's load
    during the run weighs on both sides alike. On each visit one untimed request (it opens
    the connection, warms caches and counts the page's queries), then one timed."""
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    runs: dict[str, dict[str, list[float]]] = {label: {} for label in databases}
    queries: dict[tuple[str, str], int] = {}
    for _ in range(repeat):
        for name, who, path in pages(heavy_email):
            client = found[who]
            for label, database in databases.items():
                switch(database)
                counter = QueryCounter()
                with connection.execute_wrapper(counter):
                    response = client.get(path)
                if response.status_code != 200:
                    raise SystemExit(f"history: {path} answered {response.status_code} ({label})")
                queries[label, name] = counter.count
                t0 = time.perf_counter()
                client.get(path)
                runs[label].setdefault(name, []).append((time.perf_counter() - t0) * 1000)
    medians = {
        label: {name: statistics.median(values) for name, values in by_page.items()}
        for label, by_page in runs.items()
    }
    for name, _, _ in pages(heavy_email):
        print(
            "  "
            + name.ljust(34)
            + "   ".join(
                f"{label} {medians[label][name]:7.1f} ms ({queries[label, name]} queries)"
                for label in databases
            ),
            flush=True,
        )
    return medians


# --- the export, in a process of its own -------------------------------------------------------


def export_probe(email: str) -> None:
    """Child process: download the user's data export, print peak memory and size as JSON."""
    from django.test import Client  # noqa: PLC0415 - Django is set up when the bench runs

    from accounts.models import User  # noqa: PLC0415 - Django is set up when the bench runs

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(email=email))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    response = client.get("/account/export/download/")
    size = 0
    if response.streaming:
        for chunk in response.streaming_content:
            size += len(chunk)
    else:
        size = len(response.content)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "status": response.status_code,
                "bytes": size,
                "seconds": seconds,
                "streaming": response.streaming,
                "rss_before_mb": before / 1024,
                "peak_rss_mb": peak / 1024,
            }
        )
    )


def measure_export(url: str, email: str, label: str) -> dict:
    from django.db import connections  # noqa: PLC0415 - Django is set up when the bench runs

    connections.close_all()  # the child reads what this process committed
    env = server_env(url, conn_max_age=0)
    done = subprocess.run(
        [sys.executable, "-m", "bench.history", "--export-probe", email],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=die_with_parent,
    )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"history: the export process exited with {done.returncode}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if found["status"] != 200:
        raise SystemExit(f"history: the export answered {found['status']}")
    print(
        f"  [{label}] data export: {found['bytes'] / 1e6:,.1f} MB in {found['seconds']:.1f}s,"
        f" peak RSS {found['peak_rss_mb']:,.0f} MB (before the request "
        f"{found['rss_before_mb']:,.0f} MB), streaming: {found['streaming']}",
        flush=True,
    )
    return found


def _results(rows: int, heavy_email: str, medians: dict, exports: tuple) -> list[Result]:
    """One row per page (the median after / before) and one for the export's peak memory."""
    export_before, export_after = exports
    before, after = medians["demo"], medians["history"]
    label = f"after {rows:,} rows"
    results = [
        Result(
            "history",
            f"{name}, {label}",
            after[name],
            before[name],
            "ms",
            BASELINE,
            higher_is_better=False,
            target=TARGET,
        )
        for name, _, _ in pages(heavy_email)
    ]
    results.append(
        Result(
            "history",
            f"data export peak RSS, {label}",
            export_after["peak_rss_mb"],
            export_before["peak_rss_mb"],
            "MB",
            BASELINE,
            higher_is_better=False,
            target=TARGET,
        )
    )
    return results


def run(args) -> list[Result]:
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    maintenance = connection.settings_dict["NAME"]
    with scratch_database(DATABASE, keep=args.keep) as url:
        print("history: demo data", flush=True)
        seed_demo()
        settle()
        heavy = heavy_customer()
        found = clients(heavy)  # signed in before the copy: the sessions are in both
        clone(DATABASE, AFTER, via=maintenance)
        try:
            switch(AFTER)
            print(f"history: {args.rows:,} more ledger rows, in a copy ({AFTER})", flush=True)
            seed_history(args, heavy)
            check_books()
            settle()
            print(f"history: {args.repeat} rounds of every page on both databases", flush=True)
            medians = measure_pages(
                found, heavy.email, args.repeat, {"demo": DATABASE, "history": AFTER}
            )
            export_before = measure_export(url, heavy.email, "demo")
            export_after = measure_export(database_url(AFTER), heavy.email, "history")
        finally:
            switch(DATABASE)
            if not args.keep:
                drop_database(AFTER)

    results = _results(args.rows, heavy.email, medians, (export_before, export_after))
    missed = [r.metric for r in results if not r.met]
    print(
        f"history: {len(results) - len(missed)} of {len(results)} rows within {TARGET}"
        + (f"; not: {', '.join(missed)}" if missed else ""),
        flush=True,
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        type=int,
        default=1_000_000,
        help="ledger rows added (with the COPY generator, all the heavy customer's)",
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=0,
        help="seed_history: customers sharing the history (default its own); "
        "COPY generator: new customers with histories of their own "
        "(default 1,000)",
    )
    parser.add_argument(
        "--rows-per-customer",
        type=int,
        default=100,
        help="each new customer's ledger rows (COPY generator only)",
    )
    parser.add_argument(
        "--generator",
        choices=["auto", "seed_history", "copy"],
        default="auto",
        help="auto: manage.py seed_history when the project "
        "has it, else the bench's COPY generator",
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--json", help="also write the result rows to this file")
    parser.add_argument("--export-probe", metavar="EMAIL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_probe:
        setup_django()
        export_probe(args.export_probe)
        return
    setup_django()
    write_results(args.json, run(args))


if __name__ == "__main__":
    run_main(main)
