"""Back up, restore and verify the database; keep the backups the retention rules name.

``create_backup`` dumps the default database (or another) with pg_dump in a snapshot it exports
and reads the manifest's facts in that same snapshot. ``restore_backup`` checks the dump against
its manifest's sha256 before anything else and refuses a target that holds tables unless told
to replace them. ``verify_backup`` restores into a scratch database, compares it with the
manifest, runs the credits invariant there and drops it, whatever happens.
"""

import contextlib
import copy
import logging
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.db import connections
from django.db.utils import load_backend
from psycopg import IsolationLevel

from config.backups import manifest as facts
from config.backups import pgtools, retention
from config.backups import storage as stores
from config.backups.pgtools import BackupError, Database
from config.backups.progress import LogProgress
from credits.invariant import check_invariant

logger = logging.getLogger("config.backups")

# An unfinished backup (a dump without its manifest) younger than this may still be running.
UNFINISHED_GRACE = timedelta(days=1)
_DUMPING = re.compile(r'dumping contents of table "([^"]+)"')
_RESTORING = re.compile(r'processing data for table "([^"]+)"')


def default_database() -> Database:
    """The default database, logged in as the owner of its schema when the settings have two
    roles (core.dbroles): the owner reads every table and may create a scratch database."""
    settings_dict = connections["default"].settings_dict
    owner = (settings_dict.get("ROLES") or {}).get("owner")
    return Database.from_settings({**settings_dict, **owner} if owner else settings_dict)


# --- backup -----------------------------------------------------------------------------------


def create_backup(
    *,
    source: Database | None = None,
    storage: Storage | None = None,
    progress=None,
    now: datetime | None = None,
    prune: bool = True,
) -> dict:
    """Dump ``source`` (the default database) into the backup storage; return its manifest.

    pg_dump reads a snapshot exported by a REPEATABLE READ transaction of ours, in which the
    migration state and the money tables' row counts are read too, so the manifest describes
    the dump exactly while the product keeps writing. Takes no lock beyond pg_dump's ACCESS
    SHARE (which only blocks schema changes). The manifest is written after the dump is
    stored; then the retention rules are applied (``prune``). Safe to run twice: it makes two
    backups, and retention keeps what the rules say.
    """
    source = source or default_database()
    storage = storage or stores.backup_storage()
    progress = progress or LogProgress()
    started_at = now or datetime.now(UTC)
    name = facts.backup_name(source.name, started_at)
    if stores.backups_in(storage).get(name):
        raise BackupError(f"a backup named {name} exists already in {stores.describe(storage)}")
    clock = time.monotonic()
    progress.step(f"Backing up {source.shown} as {name} into {stores.describe(storage)}")
    partial = stores.scratch_dir() / f"{name}{facts.DUMP}.part"
    try:
        dumped = _dump_in_snapshot(source, partial, progress)
        size = partial.stat().st_size
        progress.step(f"Dumped {_size(size)}; computing its sha256")
        checksum = stores.sha256_of(partial, progress)
        stores.store_dump(storage, name + facts.DUMP, partial, progress)
    finally:
        partial.unlink(missing_ok=True)
    counts = dumped["row_counts"]
    manifest = facts.build(
        name, source, dumped, started_at, time.monotonic() - clock, size=size, checksum=checksum
    )
    stores.write_json(storage, name + facts.MANIFEST, manifest)
    progress.step(
        f"Backup {name}: {_size(size)}, {sum(v or 0 for v in counts.values())} rows "
        f"in {len(counts)} money tables, sha256 {checksum[:12]}…"
    )
    if prune:
        deleted = apply_retention(storage=storage, database=source.name, now=datetime.now(UTC))
        if deleted:
            progress.step(f"Retention removed {len(deleted)} old backup(s): {', '.join(deleted)}")
    return manifest


def _dump_in_snapshot(source: Database, path: Path, progress) -> dict:
    """pg_dump ``source`` into ``path`` in a snapshot that our REPEATABLE READ transaction
    exports and keeps open meanwhile; the manifest's facts are read in that transaction."""
    with source.connect() as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            row = cursor.fetchone()
            assert row is not None  # a function call's SELECT returns one row
            snapshot = row[0]
            migrations = facts.migration_state(cursor)
            counts = facts.row_counts(cursor, facts.money_tables())
            cursor.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname "
                "NOT IN ('pg_catalog', 'information_schema')"
            )
            row = cursor.fetchone()
            assert row is not None  # an aggregate without GROUP BY returns one row
            tables = row[0]
        pg_dump = pgtools.program("pg_dump", server_major=pgtools.server_major_version(conn))
        progress.step(f"Dumping {tables} tables with {pg_dump}")
        progress.start(total=tables, unit="table", desc="dump")
        pgtools.run(
            [
                pg_dump,
                "--format=custom",
                "--compress=6",
                "--verbose",
                f"--snapshot={snapshot}",
                f"--file={path}",
            ],
            db=source,
            on_line=lambda line: _DUMPING.search(line) and progress.advance(),
        )
        progress.finish()
        server_version = conn.info.parameter_status("server_version")
        conn.rollback()
    return {
        "migrations": migrations,
        "row_counts": counts,
        "server_version": server_version,
        "pg_dump": f"pg_dump {pgtools.program_major_version(pg_dump)}",
    }


def _size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


# --- retention --------------------------------------------------------------------------------


def apply_retention(
    *,
    storage: Storage | None = None,
    database: str | None = None,
    now: datetime | None = None,
    daily: int | None = None,
    weekly: int | None = None,
) -> list[str]:
    """Delete the backups the rules do not keep (``BACKUP_KEEP_DAILY``, ``BACKUP_KEEP_WEEKLY``:
    see retention.to_keep), per database, or of ``database`` only. Dumps left without a
    manifest by a run that died are deleted once older than a day. Returns deleted names."""
    storage = storage or stores.backup_storage()
    now = now or datetime.now(UTC)
    daily = settings.BACKUP_KEEP_DAILY if daily is None else daily
    weekly = settings.BACKUP_KEEP_WEEKLY if weekly is None else weekly
    by_database: dict[str, dict[datetime, str]] = {}
    deleted = []
    for name, suffixes in sorted(stores.backups_in(storage).items()):
        parsed = facts.parse_name(name)
        assert parsed is not None  # backups_in lists only the names that parse
        db, at = parsed
        if database is not None and db != database:
            continue
        if facts.MANIFEST not in suffixes:
            if now - at > UNFINISHED_GRACE:
                stores.delete_backup(storage, name, suffixes)
                deleted.append(name)
            continue
        by_database.setdefault(db, {})[at] = name
    for backups in by_database.values():
        kept = retention.to_keep(backups, daily=daily, weekly=weekly)
        for at, name in sorted(backups.items()):
            if at not in kept:
                stores.delete_backup(storage, name, stores.backups_in(storage).get(name, ()))
                deleted.append(name)
    for name in deleted:
        logger.info("Backup %s deleted by the retention rules", name)
    return deleted


# --- finding a backup -------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    storage: Storage
    name: str
    manifest: dict = field(repr=False)


def locate(spec: str | None = None) -> Located:
    """The backup ``spec`` names: a local path to its ``.dump`` or ``.manifest.json``, or a
    backup name (or one of its file names) in the backup storage; None: the newest complete
    backup there."""
    storage = stores.backup_storage()
    if spec is None:
        complete = stores.complete_backups(storage)
        if not complete:
            raise BackupError(f"no backup in {stores.describe(storage)}")
        name = complete[-1]
    else:
        path = Path(spec)
        if path.is_file():
            storage = FileSystemStorage(location=path.resolve().parent)
            spec = path.name
        parts = facts.split_filename(spec)
        name = parts[0] if parts else spec
    if not storage.exists(name + facts.MANIFEST):
        raise BackupError(
            f"{name}{facts.MANIFEST} is not in {stores.describe(storage)}: "
            f"without its manifest a dump cannot be checked, so it is not used"
        )
    manifest = stores.read_json(storage, name + facts.MANIFEST)
    if manifest.get("format_version") != facts.FORMAT_VERSION:
        raise BackupError(
            f"{name}: manifest format {manifest.get('format_version')!r} is not "
            f"{facts.FORMAT_VERSION}"
        )
    return Located(storage, name, manifest)


@contextlib.contextmanager
def checked_dump(backup: Located, progress) -> Iterator[Path]:
    """The dump as a local file whose sha256 matches its manifest; BackupError otherwise."""
    dump_file = backup.manifest["dump"]["file"]
    if not backup.storage.exists(dump_file):
        raise BackupError(f"{dump_file} is missing from {stores.describe(backup.storage)}")
    with stores.local_dump(backup.storage, dump_file, progress) as path:
        progress.step(f"Checking the sha256 of {dump_file}")
        actual = stores.sha256_of(path, progress)
        expected = backup.manifest["dump"]["sha256"]
        if actual != expected:
            raise BackupError(
                f"checksum mismatch: {dump_file} has sha256 {actual}, its "
                f"manifest says {expected}; the dump is damaged or not the one "
                f"the manifest describes, so it is not restored"
            )
        yield path


# --- restore ----------------------------------------------------------------------------------


def restore_backup(
    *,
    backup: Located,
    into: Database,
    force: bool = False,
    keep_owners: bool = True,
    keep_privileges: bool = True,
    progress=None,
) -> dict:
    """Restore ``backup`` into the database ``into`` (created when missing); return the row
    counts found there afterwards.

    Checks the dump's sha256 first. Refuses a database that already holds tables, views or
    sequences unless ``force`` (then pg_restore drops and recreates the objects the dump has;
    others are left alone). pg_restore runs in one transaction and stops at the first error,
    so a failed restore leaves the target as it was. Owners and grants are restored as they
    were (the schema owner's tables, the application role's row privileges): that needs the
    same roles on the target server and a login that may assign them (the owner itself or a
    superuser). ``keep_owners=False`` makes the connecting user own everything and
    ``keep_privileges=False`` drops the grants (then run ``manage.py grant_app_role``).
    Raises BackupError when the restored row counts or migrations differ from the manifest.
    """
    progress = progress or LogProgress()
    with checked_dump(backup, progress) as dump:
        problems = _restore(
            dump,
            into=into,
            force=force,
            manifest=backup.manifest,
            progress=progress,
            keep_owners=keep_owners,
            keep_privileges=keep_privileges,
        )
    if problems:
        raise BackupError(
            f"{into.shown} does not match the manifest of {backup.name}:\n" + "\n".join(problems)
        )
    progress.step(
        f"Restored {backup.name} into {into.shown}; migrations and the row counts "
        f"of {len(backup.manifest['row_counts'])} money tables match its manifest"
    )
    return backup.manifest["row_counts"]


def _restore(
    dump: Path,
    *,
    into: Database,
    force: bool,
    manifest: dict,
    progress,
    keep_owners: bool = True,
    keep_privileges: bool = True,
) -> list[str]:
    clean = False
    if not pgtools.database_exists(into):
        progress.step(f"Creating the database {into.shown}")
        pgtools.create_database(into)
    else:
        relations = pgtools.relation_count(into)
        if relations and not force:
            raise BackupError(
                f"{into.shown} is not empty ({relations} tables, views or "
                f"sequences); restore into an empty or new database, or pass "
                f"--force to replace the objects the backup holds"
            )
        clean = bool(relations)
    with into.connect() as conn:
        major = pgtools.server_major_version(conn)
    pg_restore = pgtools.program("pg_restore", server_major=major)
    tables = _table_data_entries(pg_restore, dump)
    progress.step(f"Restoring {tables} tables into {into.shown} with {pg_restore}")
    progress.start(total=tables, unit="table", desc="restore")
    args = [
        pg_restore,
        "--verbose",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={into.name}",
    ]
    if clean:
        args += ["--clean", "--if-exists"]
    if not keep_owners:
        args.append("--no-owner")
    if not keep_privileges:
        args.append("--no-privileges")
    pgtools.run(
        [*args, str(dump)],
        db=into,
        on_line=lambda line: _RESTORING.search(line) and progress.advance(),
    )
    progress.finish()
    with into.connect(autocommit=True) as conn, conn.cursor() as cursor:
        return facts.differences(
            manifest,
            migrations=facts.migration_state(cursor),
            counts=facts.row_counts(cursor, list(manifest["row_counts"])),
        )


def _table_data_entries(pg_restore: str, dump: Path) -> int:
    """How many tables' rows the dump holds (its table of contents; for the progress bar)."""
    listing = subprocess.run(  # noqa: S603
        [pg_restore, "--list", str(dump)],
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode:
        raise BackupError(f"pg_restore cannot read {dump.name}: {listing.stderr.strip()}")
    return sum(
        1
        for line in listing.stdout.splitlines()
        if not line.startswith(";") and " TABLE DATA " in line
    )


# --- verify -----------------------------------------------------------------------------------


@dataclass
class Verification:
    name: str
    problems: list[str]
    scratch: str
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_backup(*, spec: str | None = None, progress=None) -> Verification:
    """Restore a backup (the newest, or ``spec``: see ``locate``) into a scratch database on
    the default database's server, then check it against its manifest (migrations, money
    tables' row counts) and the credits ledger invariant; drop the scratch database whatever
    happened. The outcome is returned and written to ``<name>.verify.json`` next to the
    backup. Needs a database user allowed to create databases. Safe to run twice."""
    progress = progress or LogProgress()
    clock = time.monotonic()
    backup = locate(spec)
    scratch = default_database().with_name(f"backup_verify_{secrets.token_hex(4)}")
    progress.step(
        f"Verifying {backup.name} from {stores.describe(backup.storage)} in the "
        f"scratch database {scratch.name}"
    )
    problems: list[str] = []
    try:
        with checked_dump(backup, progress) as dump:
            pgtools.create_database(scratch)
            problems += _restore(
                dump, into=scratch, force=False, manifest=backup.manifest, progress=progress
            )
            progress.step("Checking the credits ledger invariant in the restored copy")
            problems += _invariant_problems(scratch)
    except BackupError as exc:
        problems.append(str(exc))
    finally:
        pgtools.drop_database(scratch)
    result = Verification(backup.name, problems, scratch.name, round(time.monotonic() - clock, 3))
    stores.write_json(
        backup.storage,
        backup.name + facts.VERIFICATION,
        {
            "name": backup.name,
            "verified_at": datetime.now(UTC).isoformat(),
            "ok": result.ok,
            "problems": problems,
            "duration_seconds": result.seconds,
        },
    )
    if result.ok:
        progress.step(
            f"Backup {backup.name} restores and matches its manifest ({result.seconds:.1f} s)"
        )
    else:
        logger.error("Backup %s FAILED verification: %s", backup.name, "; ".join(problems))
    return result


def _invariant_problems(db: Database) -> list[str]:
    """credits.invariant.check_invariant run against ``db`` (through a temporary alias)."""

    with database_alias(db) as alias:
        violations = check_invariant(using=alias)
    return [
        f"credits ledger invariant: user {v.user_id} grant {v.grant_id} {v.problem} {v.values}"
        for v in violations
    ]


@contextlib.contextmanager
def database_alias(db: Database) -> Iterator[str]:
    """A Django database alias for ``db`` while the block runs (the ORM and services that take
    ``using=`` read it); its connection is closed and the alias removed afterwards. The
    connection is made here rather than declared in ``DATABASES``: nothing else may route to
    it."""
    alias = f"backup_{db.name}"
    template = copy.deepcopy(connections["default"].settings_dict)
    # This login as it is: not the application role the default connection may switch to.
    template.pop("ROLES", None)
    template["OPTIONS"] = {
        key: value for key, value in template.get("OPTIONS", {}).items() if key != "assume_role"
    }
    settings_dict = db.django_settings(template)
    connection = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    connections[alias] = connection
    try:
        yield alias
    finally:
        connection.close()
        del connections[alias]
