"""A gunicorn on loopback for the suites that measure the product over HTTP, and the
environment and command-line options it is started with.

Nothing here imports Django: the server is a process of its own.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

from bench.common import ROOT, SETTINGS, die_with_parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def default_gunicorn_workers() -> int:
    # gunicorn's documented starting point: (2 x cores) + 1 sync workers.
    return 2 * (os.cpu_count() or 1) + 1


class Gunicorn:
    """``gunicorn APP`` on 127.0.0.1:<free port> with the given environment; a context manager
    that waits until ``ready_path`` answers and stops the server (and its workers) on exit."""

    def __init__(
        self,
        app: str,
        *,
        env: dict,
        workers: int,
        ready_path: str = "/",
        extra_args: tuple[str, ...] = (),
    ):
        self.app, self.env, self.workers = app, env, workers
        self.ready_path, self.extra_args = ready_path, extra_args
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Gunicorn:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            self.app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
            "--timeout",
            "60",
            *self.extra_args,
        ]
        # Its own session: the terminal's Ctrl-C reaches the suite, which stops the server
        # after its last request, rather than the server mid-request.
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, start_new_session=True, preexec_fn=die_with_parent
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app} exited with {self.process.returncode}")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", self.ready_path)
                response = connection.getresponse()
                if response.status == 200:
                    return
                last = f"{response.status} {response.read()[:300]!r}"
            except (OSError, http.client.HTTPException) as exc:
                last = type(exc).__name__
            finally:
                connection.close()
            time.sleep(0.2)
        raise RuntimeError(
            f"gunicorn {self.app} did not answer {self.ready_path} with 200 in "
            f"{timeout:g}s (last: {last})"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Its own session: SIGTERM to the arbiter's group reaches every worker too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __exit__(self, *exc) -> None:
        self.stop()


# Persistent database connections for the bench's gunicorn. The settings' default (0: a new
# connection, so a new PostgreSQL backend process, per request) is what DB_CONN_MAX_AGE is
# there to change in a deployment; at 0 this 2-core machine acknowledged ~30 webhooks/s
# instead of 100 (see README, Benchmarks). ``--conn-max-age 0`` measures the default.
DEFAULT_CONN_MAX_AGE = 60


def add_server_arguments(parser) -> None:
    parser.add_argument(
        "--workers", type=int, default=0, help="gunicorn sync workers (default 2 x cores + 1)"
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=DEFAULT_CONN_MAX_AGE,
        help="DB_CONN_MAX_AGE for gunicorn, seconds (0: a connection per "
        f"request, the settings' default; default {DEFAULT_CONN_MAX_AGE})",
    )


def server_env(database_url_: str, *, conn_max_age: int, **extra: str) -> dict:
    """The environment a bench gunicorn gets: the bench settings on the scratch database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATABASE_URL": database_url_,
        "DB_CONN_MAX_AGE": str(conn_max_age),
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env
