"""What a backup must contain, as written next to it in ``<name>.manifest.json``.

The facts are read in the snapshot pg_dump dumps (the caller exports it), so they describe the
dump exactly even while the product keeps writing. Tables are named by their database table, not
their model, so a backup stays checkable after the code moved on.
"""

import re
from datetime import UTC, datetime

from django.apps import apps
from psycopg import sql

from config.backups.pgtools import Database

FORMAT_VERSION = 1
DUMP = ".dump"
MANIFEST = ".manifest.json"
VERIFICATION = ".verify.json"
SUFFIXES = (DUMP, MANIFEST, VERIFICATION)

# The tables whose rows are money or its trail: a restore that lost rows here lost money.
MONEY_MODELS = (
    "billing.Order",
    "billing.OrderItem",
    "billing.Invoice",
    "billing.Payment",
    "billing.Refund",
    "billing.Subscription",
    "credits.CreditBalance",
    "credits.CreditGrant",
    "credits.CreditTransaction",
    "credits.TransactionLot",
    "core.AuditLog",
)

_NAME = re.compile(r"^(?P<database>.+)-(?P<stamp>\d{8}T\d{6}Z)$")
_STAMP = "%Y%m%dT%H%M%SZ"


def backup_name(database: str, at: datetime) -> str:
    """``<database>-<UTC time>``: names sort by time within one database."""
    return f"{database}-{at.astimezone(UTC):{_STAMP}}"


def parse_name(name: str) -> tuple[str, datetime] | None:
    """(database, time) of a backup name; None for anything else in the storage."""
    match = _NAME.match(name)
    if not match:
        return None
    try:
        at = datetime.strptime(match.group("stamp"), _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return match.group("database"), at


def split_filename(filename: str) -> tuple[str, str] | None:
    """(name, suffix) of one of a backup's files."""
    for suffix in SUFFIXES:
        if filename.endswith(suffix) and parse_name(filename[: -len(suffix)]):
            return filename[: -len(suffix)], suffix
    return None


def money_tables() -> list[str]:
    return [apps.get_model(label)._meta.db_table for label in MONEY_MODELS]


def migration_state(cursor) -> dict[str, list[str]]:
    """Applied migrations per app, in the order they were applied."""
    cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, applied, id")
    state: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        state.setdefault(app, []).append(name)
    return state


def row_counts(cursor, tables: list[str]) -> dict[str, int | None]:
    """Rows per table; None for a table the database does not have."""
    counts: dict[str, int | None] = {}
    for table in tables:
        cursor.execute("SELECT to_regclass(quote_ident(%s)) IS NOT NULL", [table])
        if not cursor.fetchone()[0]:
            counts[table] = None
            continue
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = cursor.fetchone()[0]
    return counts


def differences(manifest: dict, *, migrations: dict, counts: dict) -> list[str]:
    """How a restored database differs from its manifest; empty when it matches."""
    problems = []
    expected = manifest["migrations"]
    for app in sorted(set(expected) | set(migrations)):
        want, got = expected.get(app, []), migrations.get(app, [])
        if want != got:
            missing = [name for name in want if name not in got]
            extra = [name for name in got if name not in want]
            problems.append(f"migrations of {app} differ: missing {missing}, extra {extra}")
    for table, want in sorted(manifest["row_counts"].items()):
        got = counts.get(table)
        if got != want:
            problems.append(f"row count of {table}: manifest {want}, restored {got}")
    return problems


def build(
    name: str,
    source: Database,
    dumped: dict,
    started_at: datetime,
    duration: float,
    *,
    size: int,
    checksum: str,
) -> dict:
    """The manifest of a stored dump: what was dumped, from where, when, and how to check it."""
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "created_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "duration_seconds": round(duration, 3),
        "database": {
            "name": source.name,
            "host": source.host or "localhost",
            "server_version": dumped["server_version"],
        },
        "dump": {
            "file": name + DUMP,
            "bytes": size,
            "sha256": checksum,
            "format": "pg_dump custom",
            "compression": "gzip level 6",
            "pg_dump": dumped["pg_dump"],
        },
        "migrations": dumped["migrations"],
        "row_counts": dumped["row_counts"],
    }
