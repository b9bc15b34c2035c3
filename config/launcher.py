"""Run the web server, a Celery worker and Celery beat together; Ctrl-C stops all three.

`make run` starts it as ``python -m config.launcher`` after migrating and seeding: it needs no
Django of its own, so the product's first answer does not wait for one more start-up of the
project (``manage.py run_all`` is the same launcher as a management command). The web server
starts first; the worker and beat start once it accepts connections, so the three start-ups
do not share the cores while the first page is being prepared. If any of the three exits, the
others are stopped too, so a broken worker is never hidden behind a running web server.
"""

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

STOP_GRACE_SECONDS = 10
PR_SET_PDEATHSIG = 1
# How long the worker and beat wait for the web server to listen before starting anyway.
WEB_START_WAIT_SECONDS = 30


class LaunchError(Exception):
    """Why the launcher stopped (a busy port, a process that exited)."""


def _die_with_parent():
    """Runs in each child before exec: if the launcher is killed outright, its children follow."""
    # Not Linux (no libc.so.6): Ctrl-C still stops everything; only a SIGKILL of it won't.
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


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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


class Launcher:
    """Starts the three processes, watches them, stops them all. ``say`` and ``warn`` print."""

    def __init__(self, *, host: str, port: int, concurrency: int, say: Callable, warn: Callable):
        self.host, self.port, self.concurrency = host, port, concurrency
        self.say, self.warn = say, warn

    def run(self) -> None:
        """Until Ctrl-C (or SIGTERM), or until a process exits (LaunchError)."""
        if not _port_is_free(self.host, self.port):
            raise LaunchError(
                f"{self.host}:{self.port} is already in use: stop what runs there first."
            )
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        # Links in e-mails (sent by the web process and the worker) point at this server,
        # whatever its port, unless SITE_URL says otherwise.
        env.setdefault("SITE_URL", f"http://{self.host}:{self.port}")
        commands = _commands(sys.executable, self.host, self.port, self.concurrency)
        children = {"web": self._spawn("web", commands.pop("web"), env)}
        try:
            self._wait_for_web(children["web"])
            for name, command in commands.items():
                children[name] = self._spawn(name, command, env)
        except BaseException:
            self._stop(children)
            raise
        self.say(
            f"\nThe product runs at http://{self.host}:{self.port}/ — admin at /admin/, "
            f"API docs at /api/v1/docs/. Press Ctrl-C to stop everything.\n"
        )
        exit_code = self._supervise(children)
        if exit_code:
            raise LaunchError(f"stopped because a process exited (code {exit_code})")
        self.say("All stopped.")

    def _spawn(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        # Each child gets its own process group, so Ctrl-C here is handled once, by us.
        child = subprocess.Popen(
            command, env=env, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.say(f"started {name} (pid {child.pid})")
        return child

    def _wait_for_web(self, web: subprocess.Popen) -> None:
        deadline = time.monotonic() + WEB_START_WAIT_SECONDS
        while time.monotonic() < deadline and not _listening(self.host, self.port):
            if web.poll() is not None:
                raise LaunchError(f"web exited with code {web.returncode} while starting")
            time.sleep(0.1)

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
                        self.warn(
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
                self.warn(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it.")
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    launcher = Launcher(
        host=args.host,
        port=args.port,
        concurrency=args.concurrency,
        say=print,
        warn=lambda message: print(message, file=sys.stderr),
    )
    try:
        launcher.run()
    except LaunchError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
