"""The application's database role reads and writes rows and nothing more (core.dbroles).

The whole suite runs as that role (the root conftest switches to it once the owner has
created and migrated the test database). These tests also log in as it directly, as the web
server and the workers do, and show what it may not do: TRUNCATE, ALTER or DROP any table,
UPDATE or DELETE a row of an append-only table (the audit log, the credit ledger).
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from config.env import ConfigurationError, database_settings
from core.dbroles import app_role, as_owner, roles
from core.models import AuditLog
from credits.factories import FeatureCostFactory, funded_user
from credits.models import CreditBalance, CreditTransaction, TransactionKind, TransactionLot
from credits.services import consume_credits

ROOT = Path(__file__).resolve().parents[2]
APPEND_ONLY = [
    "accounts_auditlog",
    "billing_subscriptionevent",
    "credits_credittransaction",
    "credits_transactionlot",
]


def _url(login: dict, database: str) -> str:
    host = login["HOST"] or "127.0.0.1"
    password = login["PASSWORD"] or ""
    if host.startswith("/"):
        return f"postgresql://{login['USER']}:{password}@/{database}?host={host}"
    return f"postgresql://{login['USER']}:{password}@{host}:{login['PORT'] or 5432}/{database}"


def _roles_or_skip() -> dict:
    found = roles(connection)
    if not found:
        if os.environ.get("REQUIRE_SERVICES") == "1":  # CI's embedded server has both roles
            pytest.fail("no application role to test, and REQUIRE_SERVICES=1 requires one")
        pytest.skip(
            "one role owns the schema and runs the application (DATABASE_URL without "
            "MIGRATION_DATABASE_URL): there is no application role to test"
        )
    return found


@pytest.fixture
def as_app():
    """A connection of its own to the test database with the application's login."""
    found = _roles_or_skip()
    with psycopg.connect(
        _url(found["app"], connection.settings_dict["NAME"]), autocommit=True
    ) as conn:
        yield conn


def _refused(conn, statement) -> str:
    """Run ``statement``, expect PostgreSQL to refuse it for lack of privilege, return why."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused, conn.transaction():
        conn.execute(statement)
    return str(refused.value)


@pytest.mark.django_db
def test_the_suite_and_the_application_log_in_as_a_role_that_owns_nothing(as_app):
    app = app_role(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app
    row = as_app.execute(
        "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole "
        "FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (app, False, False, False)
    owned = as_app.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
        "n.oid = c.relnamespace WHERE n.nspname = 'public' "
        "AND pg_get_userbyid(c.relowner) = current_user"
    ).fetchone()[0]
    assert owned == 0


@pytest.mark.django_db
def test_truncate_of_the_audit_log_and_the_ledger_is_refused(as_app):
    for table in ("accounts_auditlog", "credits_credittransaction"):
        assert "permission denied" in _refused(as_app, f"TRUNCATE {table}")
    # ... and of every other table: TRUNCATE skips row triggers and foreign-key checks.
    allowed = as_app.execute("""
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
           AND has_table_privilege(current_user, c.oid, 'TRUNCATE')""").fetchall()
    assert allowed == []


@pytest.mark.django_db
def test_alter_and_drop_table_are_refused(as_app):
    # Disabling the append-only trigger would be the way around it: only the owner may.
    assert "must be owner" in _refused(
        as_app, "ALTER TABLE accounts_auditlog DISABLE TRIGGER accounts_auditlog_append_only"
    )
    assert "must be owner" in _refused(
        as_app, "ALTER TABLE credits_creditbalance ADD COLUMN bonus integer"
    )
    assert "must be owner" in _refused(as_app, "DROP TABLE credits_creditbalance")
    assert "must be owner" in _refused(as_app, "DROP TABLE credits_credittransaction")
    assert "permission denied for schema" in _refused(as_app, "CREATE TABLE probe (id int)")


@pytest.mark.django_db
def test_update_and_delete_of_append_only_rows_are_refused_by_privilege(as_app):
    for table in APPEND_ONLY:
        name = sql.Identifier(table)
        # "permission denied for table": the privilege check, before the trigger would run.
        assert f"permission denied for table {table}" in _refused(
            as_app, sql.SQL("UPDATE {} SET id = id WHERE false").format(name)
        )
        assert f"permission denied for table {table}" in _refused(
            as_app, sql.SQL("DELETE FROM {} WHERE false").format(name)
        )
        as_app.execute(sql.SQL("SELECT count(*) FROM {}").format(name))  # reading is allowed


@pytest.mark.django_db
def test_append_only_rows_refuse_update_and_delete_through_the_orm_too():
    _roles_or_skip()
    funded_user(credits=10)  # writes a ledger row, its lot link and an audit row
    for model, change in (
        (CreditTransaction, {"amount": 1000}),
        (TransactionLot, {"amount": 1}),
        (AuditLog, {"context": {}}),
    ):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            model.objects.update(**change)
    # A ledger row is protected by its lot links; the links themselves and audit rows are not.
    for model in (TransactionLot, AuditLog):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            model.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_the_application_role_does_its_normal_writes():
    """Consuming credits locks rows, updates the balance and lots, inserts ledger and audit
    rows and reads a sequence: everything a request does, committed as the application."""
    _roles_or_skip()
    FeatureCostFactory(operation="AI_TEXT_CHAT", cost=5)
    user = funded_user(credits=50)

    row = consume_credits(user=user, operation="AI_TEXT_CHAT", idempotency_key="roles-1")

    assert (row.kind, row.amount, row.balance_after) == (TransactionKind.CONSUME, -5, 45)
    assert CreditBalance.objects.get(user=user).balance == 45
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role(connection)


@pytest.mark.django_db
def test_tables_the_owner_creates_later_are_granted_to_the_application_at_once():
    _roles_or_skip()
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE later_probe (id bigserial PRIMARY KEY, note text)")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO later_probe (note) VALUES ('rows: yes') RETURNING id")
        cursor.execute("UPDATE later_probe SET note = 'still yes'")
        cursor.execute(
            "SELECT has_table_privilege('later_probe', 'TRUNCATE'), "
            "has_table_privilege('later_probe', 'DELETE')"
        )
        assert cursor.fetchone() == (False, True)
        with pytest.raises(DatabaseError, match="must be owner"), transaction.atomic():
            cursor.execute("DROP TABLE later_probe")


@pytest.mark.django_db
def test_grant_app_role_is_safe_to_run_again_and_leaves_exactly_row_access():
    _roles_or_skip()
    call_command("grant_app_role", stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("grant_app_role", stdout=open(os.devnull, "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname,
                   has_table_privilege(current_user, c.oid, 'SELECT'),
                   has_table_privilege(current_user, c.oid, 'INSERT'),
                   has_table_privilege(current_user, c.oid, 'UPDATE'),
                   has_table_privilege(current_user, c.oid, 'DELETE'),
                   has_table_privilege(current_user, c.oid, 'TRUNCATE, REFERENCES, TRIGGER')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')""")
        privileges = {name: rights for name, *rights in cursor.fetchall()}
    assert privileges["django_migrations"] == [True, False, False, False, False]
    for table in APPEND_ONLY:
        assert privileges[table] == [True, True, False, False, False], table
    others = {
        name: rights
        for name, rights in privileges.items()
        if name not in APPEND_ONLY and name != "django_migrations"
    }
    assert others and all(
        rights == [True, True, True, True, False] for rights in others.values()
    ), others


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "MIGRATION_DATABASE_URL")
    }
    environ.update(DJANGO_SETTINGS_MODULE="config.settings.local", DEBUG="false", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,  # noqa: S603
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_logs_in_as_the_owner_and_grants_the_application(django_db_setup):
    """``DATABASE_URL`` is the application; ``manage.py migrate`` switches to
    ``MIGRATION_DATABASE_URL`` (granting tables needs their owner: as the application it
    would fail) and grants the application its rows."""
    found = _roles_or_skip()
    name = connection.settings_dict["NAME"]
    app_url, owner_url = _url(found["app"], name), _url(found["owner"], name)

    migrated = _manage(
        "migrate", "--noinput", DATABASE_URL=app_url, MIGRATION_DATABASE_URL=owner_url
    )
    alone = _manage("grant_app_role", DATABASE_URL=app_url)

    assert migrated.returncode == 0, migrated.stderr
    assert (
        f"Privileges: {found['app']['USER']} reads and writes the rows of "
        f"{found['owner']['USER']}'s tables"
    ) in migrated.stdout
    assert alone.returncode == 0, alone.stderr
    assert "nothing to grant" in alone.stdout


# --- settings ---------------------------------------------------------------------------------


def test_the_two_urls_become_the_application_login_and_the_owner_login(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://billing_app:a@db.internal:6432/billing")
    monkeypatch.setenv(
        "MIGRATION_DATABASE_URL", "postgresql://billing_owner:o@db-primary.internal:5432/billing"
    )
    config = database_settings()
    assert (config["USER"], config["HOST"], config["PORT"]) == ("billing_app", "db.internal", 6432)
    assert config["ROLES"]["owner"]["USER"] == "billing_owner"
    assert config["ROLES"]["owner"]["HOST"] == "db-primary.internal"
    assert config["ROLES"]["app"]["USER"] == "billing_app"


def test_one_url_means_one_role(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://billing:p@db.internal:5432/billing")
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)
    assert "ROLES" not in database_settings()


@pytest.mark.parametrize(
    ("database_url", "migration_url", "message"),
    [
        (
            "postgresql://app:a@db/billing",
            "postgresql://owner:o@db/other",
            "must name the database",
        ),
        ("", "postgresql://owner:o@db/billing", "needs DATABASE_URL"),
    ],
)
def test_a_migration_url_that_does_not_fit_stops_the_process(
    monkeypatch, database_url, migration_url, message
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MIGRATION_DATABASE_URL", migration_url)
    with pytest.raises(ConfigurationError, match=message):
        database_settings()
