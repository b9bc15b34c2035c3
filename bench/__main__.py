"""Every benchmark in one run and one table: ``python -m bench`` (``make bench``).

Each suite runs in a process of its own (``python -m bench.<suite> --json ...``): it gets a
fresh Django, its own scratch database and its own servers, and cleans them up itself when
it ends, fails or is interrupted (Ctrl-C reaches it too; this process waits for its cleanup).
A suite that fails is reported and the others still run; the exit status is then 1. Every
row is our figure next to a baseline measured in the same run on this machine, its target
and whether this run met it; ``--json PATH`` writes the rows (suite, metric, ours, baseline,
ratio, target, met, unit, baseline_name) as a JSON list. A missed target is reported, not an
error.

Durations are bounded by the options below (defaults: about six minutes on a 2-core
machine, ``firstrun``'s fresh clone and install included; ``history``, opt-in, adds about
four). ``make bench BENCH_ARGS="--seconds 3 --suites
api,webhooks"`` passes options.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    ROOT,
    die_with_parent,
    ensure_template,
    format_table,
    machine_info,
    postgres_version,
    read_results,
    run_main,
    setup_django,
    write_results,
)
from bench.server import DEFAULT_CONN_MAX_AGE

SUITES = ["credits", "rollup", "api", "webhooks", "seeding", "firstrun", "history"]
# Run unless --suites names others: every suite with a target of the benchmark table. history
# writes a million ledger rows, which takes minutes; it has a section of its own.
DEFAULT_SUITES = ["credits", "rollup", "api", "webhooks", "seeding", "firstrun"]


def suite_commands(args) -> dict[str, list[str]]:
    seconds = str(args.seconds)
    return {
        "credits": ["--seconds", seconds, "--workers", "8"],
        "rollup": [
            "--rows",
            str(args.rollup_rows),
            "--customers",
            str(args.rollup_rows // 40),
            "--subscriptions",
            str(args.rollup_rows // 40),
            "--repeat",
            "15",
        ],
        "api": [
            "--seconds",
            seconds,
            "--warmup",
            "2",
            "--users",
            str(args.users),
            "--conn-max-age",
            str(args.conn_max_age),
        ],
        "webhooks": [
            "--seconds",
            str(args.seconds * 2),
            "--rate",
            str(args.rate),
            "--sweep-seconds",
            str(max(args.seconds * 0.8, 2)),
            "--conn-max-age",
            str(args.conn_max_age),
        ],
        "seeding": [],
        "firstrun": [],
        "history": [],
    }


def run_suite(name: str, options: list[str], out: Path) -> int:
    command = [sys.executable, "-m", f"bench.{name}", "--json", str(out), *options]
    process = subprocess.Popen(command, cwd=ROOT, preexec_fn=die_with_parent)
    try:
        return process.wait()
    except (KeyboardInterrupt, SystemExit) as stop:
        if isinstance(stop, SystemExit):  # SIGTERM for us alone: pass it on
            process.send_signal(signal.SIGTERM)
        # (Ctrl-C reached the suite too.) Give it time to drop its database, stop servers.
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise


def _arguments() -> tuple[argparse.Namespace, list[str]]:
    """The options, and the suites chosen (in their run order)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--suites",
        default=",".join(DEFAULT_SUITES),
        help=f"comma-separated, from: {','.join(SUITES)} (default: all but history)",
    )
    parser.add_argument("--json", help="also write every row to this file (a JSON list)")
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("BENCH_SECONDS", "5")),
        help="measured seconds per phase (credits, api; webhooks send for "
        "twice this); env BENCH_SECONDS",
    )
    parser.add_argument("--rate", type=float, default=100.0, help="webhook events per second")
    parser.add_argument("--users", type=int, default=10, help="locust users for the API suite")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=DEFAULT_CONN_MAX_AGE,
        help="DB_CONN_MAX_AGE for the API and webhook suites' gunicorn "
        "(0: a new connection per request, the settings' default)",
    )
    parser.add_argument(
        "--rollup-rows",
        type=int,
        default=1_000_000,
        help="ledger rows for the rollup suite (customers: rows / 40)",
    )
    args = parser.parse_args()
    chosen = [name for name in SUITES if name in {part.strip() for part in args.suites.split(",")}]
    unknown = sorted(
        {part.strip() for part in args.suites.split(",") if part.strip()} - set(SUITES)
    )
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")
    return args, chosen


def main() -> int:
    args, chosen = _arguments()
    setup_django()
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    print("Preparing the migrated template database…", flush=True)
    ensure_template()
    info = machine_info(postgres_version())
    connection.close()

    commands = suite_commands(args)
    results, failed = [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        for index, name in enumerate(chosen, 1):
            print(
                f"\n[{index}/{len(chosen)}] {name} (elapsed {time.perf_counter() - started:.0f}s)",
                flush=True,
            )
            out = Path(folder) / f"{name}.json"
            suite_started = time.perf_counter()
            try:
                status = run_suite(name, commands[name], out)
            except (KeyboardInterrupt, SystemExit):
                print(f"\nInterrupted during {name}; it cleaned up its database and servers.")
                return 130
            if status != 0 or not out.exists():
                failed.append(f"{name} (exit status {status})")
                continue
            results.extend(read_results(out))
            print(
                f"[{index}/{len(chosen)}] {name} done in "
                f"{time.perf_counter() - suite_started:.0f}s",
                flush=True,
            )

    print(f"\n{info}; total {time.perf_counter() - started:.0f}s")
    print(
        "ratio = ours / baseline. For ops/s, req/s, /s and rows/s higher is better; for ms "
        "and s lower is better. target: on the ratio (x) or on our figure (a unit).\n"
    )
    print(format_table(results))
    missed = [f"{r.suite}: {r.metric}" for r in results if r.met is False]
    print(
        f"\nTargets met: {sum(r.met is True for r in results)} of "
        f"{sum(r.met is not None for r in results)}"
        + (f"; not met: {'; '.join(missed)}" if missed else "")
    )
    write_results(args.json, results)
    if failed:
        print(f"\nFailed: {', '.join(failed)} (see its output above)")
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
