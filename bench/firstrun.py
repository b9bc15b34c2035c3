"""First run: ``make run`` in a fresh clone until /healthz/ answers 200, vs a second start.

    .venv/bin/python -m bench.firstrun [--timeout 900] [--keep]

1. ``git clone`` of this repository (its committed HEAD: uncommitted work is not in it) into a
   temporary folder.
2. ``make run RUN_ARGS="--port N"`` there (N a free port) with ``DATABASE_URL``,
   ``REDIS_URL`` and the rest of this process's Django environment removed, as on a new
   machine: it builds its own ``.venv`` (pip, with this machine's pip configuration and
   cache), starts its own embedded PostgreSQL under the clone's ``.data/`` (its own data
   folder, socket and port, so it cannot meet this checkout's server), migrates, seeds the
   demo data and starts the web server, a worker and beat. Timed from ``make`` until
   ``GET /healthz/`` answers 200 (database, broker and migrations all ok). Target: 60 s.
3. Ctrl-C (SIGINT to make's process group), then ``make run`` again in the same clone: the
   same path with the venv, database and demo data in place. That second start is the
   baseline: the ratio says what the first run adds to starting the product.
4. The clone's embedded server is stopped (``make stop-db``) and the folder deleted (kept
   with ``--keep``), also after an error or Ctrl-C.

Opt-in in ``python -m bench`` (``--suites ...,firstrun``): it takes minutes.
"""

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/firstrun.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    Result,
    die_with_parent,
    exit_on_sigterm,
    run_main,
    write_results,
)
from bench.server import free_port  # noqa: E402

TARGET_SECONDS = 60
# What this checkout's processes set that a fresh machine would not have.
FOREIGN_ENV = (
    "DATABASE_URL",
    "MIGRATION_DATABASE_URL",
    "REPLICA_DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "XDG_RUNTIME_DIR",
    "DB_CONN_MAX_AGE",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
    "TEST_DB_SUFFIX",
)


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    # Not this checkout's venv first on PATH: the clone's make finds python3.11 itself.
    ours = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != ours)
    return env


def healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz/")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def start_until_healthy(clone: Path, env: dict, log: Path, timeout: float) -> float:
    """``make run`` in ``clone``; seconds until /healthz/ answered 200. Stops it after."""
    port = free_port()
    with log.open("w") as out:
        began = time.perf_counter()
        make = subprocess.Popen(
            ["make", "run", f"RUN_ARGS=--port {port}"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        try:
            while not healthy(port):
                if make.poll() is not None:
                    raise SystemExit(
                        f"firstrun: make run exited with {make.returncode} before "
                        f"/healthz/ answered; its log ends:\n{_tail(log)}"
                    )
                if time.perf_counter() - began > timeout:
                    raise SystemExit(
                        f"firstrun: no healthy /healthz/ after {timeout:g} s; "
                        f"the log ends:\n{_tail(log)}"
                    )
                time.sleep(0.5)
            return time.perf_counter() - began
        finally:
            stop(make)


def stop(make: subprocess.Popen) -> None:
    """Ctrl-C as a terminal sends it (run_all stops the web server, worker and beat)."""
    if make.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(make.pid, signal.SIGINT)
    try:
        make.wait(timeout=40)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)
        make.wait()


def run(args) -> list[Result]:
    folder = Path(tempfile.mkdtemp(prefix="bench-firstrun-"))
    clone, env = folder / "clone", clean_env()
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        head = subprocess.run(
            ["git", "-C", str(clone), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"firstrun: cloned {head[:80]} into {clone}", flush=True)
        first = start_until_healthy(clone, env, folder / "first.log", args.timeout)
        print(f"  first make run: healthy after {first:.1f} s", flush=True)
        second = start_until_healthy(clone, env, folder / "second.log", args.timeout)
        print(f"  second make run: healthy after {second:.1f} s", flush=True)
    finally:
        if (clone / ".venv" / "bin" / "python").exists():
            subprocess.run(
                ["make", "stop-db"],
                cwd=clone,
                env=env,
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        if args.keep:
            print(f"firstrun: kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return [
        Result(
            "firstrun",
            "make run in a fresh clone until /healthz/ is 200",
            first,
            second,
            "s",
            "make run again in that clone",
            higher_is_better=False,
            target=f"ours <= {TARGET_SECONDS}",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds each start may take before the suite gives up",
    )
    parser.add_argument("--keep", action="store_true", help="keep the clone (and its logs)")
    parser.add_argument("--json", help="also write the result rows to this file")
    args = parser.parse_args()
    exit_on_sigterm()
    write_results(args.json, run(args))


if __name__ == "__main__":
    run_main(main)
