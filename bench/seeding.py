"""Demo seeding rate: rows/s of ``manage.py seed_demo`` vs PostgreSQL COPY of the same rows.

    .venv/bin/python -m bench.seeding

1. A scratch database ``bench_seeding`` (cloned from the migrated template). Every table's
   row count is taken, ``seed_demo`` runs (what ``make seed`` runs: demo users, each app's
   seed command through the services, twelve months of analytics history and its rollups),
   and the counts are taken again. Rows seeded = the sum of the increases; rows that seeding
   updates or deletes are not counted, so the rate is a floor.
2. Baseline: for each table that grew, an empty copy (``CREATE TABLE ... (LIKE ... INCLUDING
   ALL)``: same columns, defaults, constraints and indexes, no foreign keys or triggers) in a
   scratch schema, and as many of its rows as seeding added exported with COPY TO (not
   timed). Then one transaction COPYs them all FROM STDIN into the copies (timed, commit
   included): the fastest way PostgreSQL loads those rows into those tables.

The ratio is seeding's share of COPY's rate; seeding also decides what to write (services,
row locks, audit rows, password hashing, embeddings, rollups), so a small share is expected.
Demo passwords come from .data/demo-credentials.json as for ``make seed`` (never replaced).
"""

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/seeding.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    Result,
    empty_bench_queue,
    run_main,
    scratch_database,
    setup_django,
    write_results,
)

DATABASE = "bench_seeding"
COPY_SCHEMA = "bench_copy"


def table_counts() -> dict[str, int]:
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


def grown(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Tables whose row count increased, with the increase."""
    return {
        table: after[table] - before.get(table, 0)
        for table in after
        if after[table] > before.get(table, 0)
    }


def seed_demo() -> float:
    """Run seed_demo quietly; return its wall time in seconds."""
    from django.core.management import call_command  # noqa: PLC0415 - Django is set up when the bench runs

    quiet = io.StringIO()
    started = time.perf_counter()
    # The console e-mail backend writes to sys.stdout and tqdm to sys.stderr.
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        call_command("seed_demo", stdout=quiet, stderr=quiet)
    return time.perf_counter() - started


def _copy_columns(cursor, table: str) -> str:
    # Generated columns (the catalog's search vector) are computed by the target, as on insert.
    cursor.execute(
        """
        SELECT attname FROM pg_attribute
        WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
        ORDER BY attnum""",
        [f'public."{table}"'],
    )
    return ", ".join(f'"{row[0]}"' for row in cursor.fetchall())


def copy_baseline(added: dict[str, int]) -> float:
    """Seconds for COPY FROM of ``added[table]`` rows of each table into empty copies."""
    from django.db import connection, transaction  # noqa: PLC0415 - Django is set up when the bench runs

    exported = {}
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{COPY_SCHEMA}"')
        for table, rows in added.items():
            cursor.execute(
                f'CREATE TABLE "{COPY_SCHEMA}"."{table}" (LIKE public."{table}" INCLUDING ALL)'
            )
            columns = _copy_columns(cursor, table)
            data = io.BytesIO()
            with cursor.cursor.copy(
                f'COPY (SELECT {columns} FROM public."{table}" LIMIT {int(rows)}) TO STDOUT'
            ) as copy:
                for chunk in copy:
                    data.write(chunk)
            exported[table] = (columns, data.getvalue())
    connection.close()  # a fresh session, as seed_demo had
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table, (columns, data) in exported.items():
            with cursor.cursor.copy(
                f'COPY "{COPY_SCHEMA}"."{table}" ({columns}) FROM STDIN'
            ) as copy:
                copy.write(data)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table, (_, _data) in exported.items():
            cursor.execute(f'SELECT count(*) FROM "{COPY_SCHEMA}"."{table}"')
            if cursor.fetchone()[0] != added[table]:
                raise SystemExit(f"seeding: COPY loaded a different number of rows into {table}")
    return elapsed


def run(args) -> list[Result]:
    print("seeding: seed_demo on a fresh database, then COPY of the same rows", flush=True)
    try:
        with scratch_database(DATABASE):
            before = table_counts()
            seconds = seed_demo()
            added = grown(before, table_counts())
            rows = sum(added.values())
            copy_seconds = copy_baseline(added)
    finally:
        empty_bench_queue()  # sign-up e-mails and the like, queued for a worker that never runs
    ours, copy_rate = rows / seconds, rows / copy_seconds
    top = ", ".join(
        f"{table} {count}" for table, count in sorted(added.items(), key=lambda item: -item[1])[:5]
    )
    print(
        f"  seed_demo: {rows:,} rows in {len(added)} tables in {seconds:.1f}s = "
        f"{ours:,.0f} rows/s (most: {top})"
    )
    print(
        f"  COPY of the same rows into copies of those tables: {copy_seconds:.2f}s = "
        f"{copy_rate:,.0f} rows/s",
        flush=True,
    )
    return [
        Result(
            "seeding",
            f"seed_demo ({rows:,} rows)",
            ours,
            copy_rate,
            "rows/s",
            "COPY of the same rows, same tables",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the result rows to this file")
    args = parser.parse_args()
    setup_django()
    write_results(args.json, run(args))


if __name__ == "__main__":
    run_main(main)
