"""Run the web server, a Celery worker and Celery beat together; Ctrl-C stops all three.

`make run` calls this after migrating and seeding. If any of the three exits, the others are
stopped too, so a broken worker is never hidden behind a running web server.
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandError

STOP_GRACE_SECONDS = 10
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """Runs in each child before exec: if run_all is killed outright, its children follow."""
    # Not Linux (no libc.so.6): Ctrl-C still stops everything; only a SIGKILL of run_all won't.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _commands(python: str, host: str, port: int, concurrency: int) -> dict[str, list[str]]:
    """The three processes, by name: the web server, a Celery worker and Celery beat."""
    return {
        "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--hostname",
            "worker@%h",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--scheduler",
            "config.beat:LeaderScheduler",
        ],
    }


class Command(BaseCommand):
    help = "Run the web server (127.0.0.1:8000), a Celery worker and beat; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, host, port, concurrency, **options):
        if not _port_is_free(host, port):
            raise CommandError(f"{host}:{port} is already in use: stop what runs there first.")
        python = sys.executable
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        # Links in e-mails (sent by the web process and the worker) point at this server,
        # whatever its port, unless SITE_URL says otherwise.
        env.setdefault("SITE_URL", f"http://{host}:{port}")
        commands = _commands(python, host, port, concurrency)
        children = self._start(commands, env)
        self.stdout.write(
            self.style.SUCCESS(
                f"\nThe product runs at http://{host}:{port}/ — admin at /admin/, "
                f"API docs at /api/v1/docs/. Press Ctrl-C to stop everything.\n"
            )
        )
        exit_code = self._supervise(children)
        if exit_code:
            raise CommandError(f"stopped because a process exited (code {exit_code})")
        self.stdout.write("All stopped.")

    def _start(self, commands, env):
        children = {}
        for name, command in commands.items():
            # Each child gets its own process group, so Ctrl-C here is handled once, by us.
            children[name] = subprocess.Popen(
                command, env=env, start_new_session=True, preexec_fn=_die_with_parent
            )
            self.stdout.write(f"started {name} (pid {children[name].pid})")
        return children

    def _supervise(self, children):
        """Wait for Ctrl-C (or SIGTERM) or for a child to exit, then stop them all; the exit
        code of a child that exited by itself (or 1), else 0."""
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        exit_code = 0
        try:
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(
                            f"{name} exited with code {child.returncode}; stopping the others."
                        )
                        exit_code = child.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._stop(children)
        return exit_code

    def _stop(self, children):
        # SIGTERM to each main process only: Celery then stops its own pool (warm shutdown).
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it.")
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
