"""Two database roles: the owner, which changes the schema, and the application, which only
reads and writes rows (README, "Database roles").

The owner (``MIGRATION_DATABASE_URL``; the embedded server's superuser locally) owns every
table, so only it can ALTER, DROP or TRUNCATE one. The application (``DATABASE_URL``;
``billing_app`` locally) gets SELECT, INSERT, UPDATE and DELETE on the tables and USAGE on the
sequences; on the append-only tables (the audit log, the credit ledger: every table with a
``core.db.append_only`` trigger) only SELECT and INSERT, so the database refuses their
UPDATE, DELETE and TRUNCATE twice over. ``grant_app_role`` gives exactly that, and default
privileges make every table the owner creates later follow; ``manage.py migrate`` runs it
after migrating.

The settings keep both logins under ``DATABASES["default"]["ROLES"]`` (config.env). Code that
changes the schema runs in ``as_owner()``:

* in a process that logs in as the application (web, workers, ``manage.py migrate``), the
  connection is closed and opened again with the owner's login for the block;
* in the tests, which log in as the owner (pytest-django creates and migrates the test
  database) and then act as the application with ``SET ROLE`` (Django's ``assume_role``, see
  ``act_as_app_role``), the block runs with the role reset to the owner.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from psycopg import pq, sql

from core.db import APPEND_ONLY_SUFFIX

LOGIN_KEYS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
SCHEMA = "public"
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"
# Django's record of applied migrations: the application reads it (/healthz/), only the owner
# writes it.
READ_ONLY_TABLES = ("django_migrations",)


class RoleSetupError(RuntimeError):
    """The application's role would have more than row access, or too little to work."""


def roles(connection: BaseDatabaseWrapper) -> dict[str, Any] | None:
    """``{"owner": login, "app": login}``, or None when one role does everything."""
    return connection.settings_dict.get("ROLES")


def app_role(connection: BaseDatabaseWrapper) -> str | None:
    found = roles(connection)
    return found["app"]["USER"] if found else None


@contextmanager
def as_owner(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block on connection ``using`` as the owner of the schema; a no-op with one
    role. With a login of its own the owner needs a new connection, so this refuses to start
    inside a transaction."""
    connection = connections[using]
    found = roles(connection)
    if not found:
        yield
        return
    if connection.settings_dict["USER"] != found["owner"]["USER"]:
        with _logged_in_as(connection, found["owner"]):
            yield
    elif role := connection.settings_dict["OPTIONS"].get("assume_role"):
        with _role_reset(connection, role):
            yield
    else:
        yield


@contextmanager
def _logged_in_as(connection: BaseDatabaseWrapper, login: dict[str, Any]) -> Iterator[None]:
    if connection.in_atomic_block:
        raise RuntimeError("as_owner() needs a new connection: call it outside transactions")
    saved = {key: connection.settings_dict[key] for key in LOGIN_KEYS}
    connection.close()
    connection.settings_dict.update({**login, "OPTIONS": dict(login["OPTIONS"])})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@contextmanager
def _role_reset(connection: BaseDatabaseWrapper, role: str) -> Iterator[None]:
    # Inside a transaction SET LOCAL: a rollback (the test's) also ends it.
    scope = "LOCAL " if connection.in_atomic_block else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SET {scope}ROLE NONE")
    try:
        yield
    finally:
        # A failed transaction cannot run SET and gives the role back when it rolls back; a
        # connection that was closed meanwhile starts as the application's role again.
        raw = connection.connection
        if (
            raw is not None
            and not raw.closed
            and (raw.info.transaction_status != pq.TransactionStatus.INERROR)
        ):
            with connection.cursor() as cursor:
                cursor.execute(
                    sql.SQL("SET {}ROLE {}").format(sql.SQL(scope), sql.Identifier(role))
                )


def act_as_app_role(using: str = DEFAULT_DB_ALIAS) -> bool:
    """From now on, connections ``using`` opens log in as the owner and ``SET ROLE`` to the
    application's role (the tests, once the test database is migrated). False with one role
    or when the login is already the application's."""
    connection = connections[using]
    found = roles(connection)
    if not found or connection.settings_dict["USER"] != found["owner"]["USER"]:
        return False
    connection.close()
    connection.settings_dict["OPTIONS"]["assume_role"] = found["app"]["USER"]
    return True


def stop_acting_as_app_role(using: str = DEFAULT_DB_ALIAS) -> None:
    connection = connections[using]
    connection.close()
    connection.settings_dict["OPTIONS"].pop("assume_role", None)


def log_in_as_owner(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a DATABASES entry) with the owner's login, the roles kept: the test
    settings, and tools that create databases (the benchmarks)."""
    found = config.get("ROLES")
    if found:
        config.update({**found["owner"], "OPTIONS": dict(found["owner"]["OPTIONS"])})
    return config


# --- privileges ---------------------------------------------------------------------------------


def append_only_tables(cursor: CursorWrapper) -> list[str]:
    """Tables with an append-only trigger (core.db.append_only), by name."""
    cursor.execute(
        """
        SELECT DISTINCT c.relname FROM pg_trigger t
          JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT t.tgisinternal AND n.nspname = %s AND t.tgname = c.relname || %s
         ORDER BY c.relname""",
        [SCHEMA, APPEND_ONLY_SUFFIX],
    )
    return [name for (name,) in cursor.fetchall()]


def grant_statements(
    *, owner: str, app: str, append_only: list[str], read_only: list[str]
) -> list[sql.Composed]:
    """What the application may do, from nothing (so a privilege granted by hand is taken
    back), in one transaction: the application never sees a moment without its rights."""
    schema, owner_id, app_id = sql.Identifier(SCHEMA), sql.Identifier(owner), sql.Identifier(app)

    def statement(template: str, *names: sql.Composable) -> sql.Composed:
        return sql.SQL(template).format(*names)

    statements = [
        statement("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}", schema, app_id),
        statement(f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {{}} TO {{}}", schema, app_id),
        statement("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}", schema, app_id),
        statement(
            f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {{}} TO {{}}", schema, app_id
        ),
        # Tables and sequences the owner creates from now on (a migration) follow at once.
        statement(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {{}} IN SCHEMA {{}} "
            f"GRANT {TABLE_PRIVILEGES} ON TABLES TO {{}}",
            owner_id,
            schema,
            app_id,
        ),
        statement(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {{}} IN SCHEMA {{}} "
            f"GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {{}}",
            owner_id,
            schema,
            app_id,
        ),
    ]
    for table in append_only:
        statements.append(
            statement(
                f"REVOKE ALL ON {{}}.{{}} FROM {{}}; "
                f"GRANT {APPEND_ONLY_PRIVILEGES} ON {{}}.{{}} TO {{}}",
                schema,
                sql.Identifier(table),
                app_id,
                schema,
                sql.Identifier(table),
                app_id,
            )
        )
    for table in read_only:
        statements.append(
            statement(
                "REVOKE ALL ON {}.{} FROM {}; GRANT SELECT ON {}.{} TO {}",
                schema,
                sql.Identifier(table),
                app_id,
                schema,
                sql.Identifier(table),
                app_id,
            )
        )
    return statements


# Each row: a reason the application's role is not what it should be, if the query says so.
_CHECKS = (
    (
        "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls FROM pg_roles "
        "WHERE rolname = %(app)s",
        "{app} is a superuser or may create databases or roles, or bypasses row security: "
        "ALTER ROLE {app} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
    ),
    (
        "SELECT pg_has_role(%(app)s, %(owner)s, 'USAGE')",
        "{app} is (or is a member of) the owner {owner}, so it may alter and drop every table: "
        "give the application a role of its own",
    ),
    (
        "SELECT has_schema_privilege(%(app)s, %(schema)s, 'CREATE')",
        "{app} may create tables in schema {schema}: REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC "
        "(and from {app}), as the schema's owner",
    ),
    (
        "SELECT NOT has_schema_privilege(%(app)s, %(schema)s, 'USAGE')",
        "{app} cannot use schema {schema}: GRANT USAGE ON SCHEMA {schema} TO {app}, as the "
        "schema's owner",
    ),
)


def grant_app_role(using: str = DEFAULT_DB_ALIAS) -> dict[str, Any] | None:
    """Give the application's role its privileges on ``using`` (as the owner; safe to run
    any number of times) and check it has no more. Returns what was done, or None with one
    role. Raises RoleSetupError when the role itself is wrong (a superuser, the owner...)."""
    connection = connections[using]
    app = app_role(connection)
    if app is None:
        return None
    with as_owner(using), connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
        params = {"app": app, "owner": owner, "schema": SCHEMA}
        problems = []
        for query, problem in _CHECKS:
            cursor.execute(query, params)
            row = cursor.fetchone()
            if row is None or row[0]:
                problems.append(problem.format(**params) if row else f"role {app} does not exist")
        if problems:
            raise RoleSetupError("; ".join(problems))
        append_only = append_only_tables(cursor)
        cursor.execute(
            "SELECT relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = ANY(%s)",
            [SCHEMA, list(READ_ONLY_TABLES)],
        )
        read_only = [name for (name,) in cursor.fetchall()]
        with transaction.atomic(using=using):
            for statement in grant_statements(
                owner=owner, app=app, append_only=append_only, read_only=read_only
            ):
                cursor.execute(statement)
    return {"owner": owner, "app": app, "append_only": append_only, "read_only": read_only}
