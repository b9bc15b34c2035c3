"""manage.py backup / restore / verify_backup on the real server, with pg_dump and pg_restore."""

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from config.backups import pgtools
from config.backups.manifest import MONEY_MODELS, money_tables, row_counts
from config.backups.pgtools import Database
from config.backups.services import database_alias
from credits.invariant import check_invariant


def url_of(db: Database) -> str:
    if db.host.startswith("/"):
        return f"postgresql://{db.user}:{db.password}@/{db.name}?host={db.host}"
    return f"postgresql://{db.user}:{db.password}@{db.host}:{db.port or 5432}/{db.name}"


def counts_in(db: Database, tables) -> dict:
    with db.connect(autocommit=True) as conn, conn.cursor() as cursor:
        return row_counts(cursor, list(tables))


def only_backup(backup_dir) -> tuple:
    manifests = sorted(backup_dir.glob("*.manifest.json"))
    assert len(manifests) == 1, manifests
    manifest = json.loads(manifests[0].read_text())
    return manifests[0], backup_dir / manifest["dump"]["file"], manifest


def balances_in(db: Database) -> list[tuple]:
    with db.connect(autocommit=True) as conn:
        return conn.execute(
            "SELECT u.email, b.balance FROM credits_creditbalance b "
            "JOIN accounts_user u ON u.id = b.user_id ORDER BY u.email"
        ).fetchall()


def test_a_backup_restores_into_a_fresh_database_after_its_source_is_dropped(
    backup_dir, source_database, make_database, capsys
):
    before = counts_in(source_database, money_tables())
    balances = balances_in(source_database)

    call_command("backup", "--database-url", url_of(source_database))

    manifest_path, dump, manifest = only_backup(backup_dir)
    assert manifest_path.name == f"{manifest['name']}.manifest.json"
    assert dump.name == f"{manifest['name']}.dump"
    assert manifest["name"].startswith(f"{source_database.name}-")
    assert manifest["row_counts"] == before
    assert len(manifest["row_counts"]) == len(MONEY_MODELS)
    assert before["credits_credittransaction"] == 4 and before["billing_order"] == 2
    assert manifest["migrations"]["credits"][0] == "0001_initial"
    assert manifest["dump"]["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert manifest["dump"]["bytes"] == dump.stat().st_size
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert oct(dump.stat().st_mode & 0o777) == "0o600"

    pgtools.drop_database(source_database)
    assert not pgtools.database_exists(source_database)

    target = make_database("bk_restored")
    call_command("restore", "--from", str(dump), "--into", url_of(target))

    assert counts_in(target, manifest["row_counts"]) == before
    assert (
        balances_in(target)
        == balances
        == [("alice@backup.example", 86), ("bob@backup.example", 33)]
    )
    with database_alias(target) as alias:
        assert check_invariant(using=alias) == []
    out = capsys.readouterr().out
    assert "match its manifest" in out and f"Restored {manifest['name']}" in out


def test_restore_refuses_a_dump_whose_checksum_does_not_match(backup_dir, db, make_database):
    call_command("backup")
    manifest_path, dump, manifest = only_backup(backup_dir)
    damaged = bytearray(dump.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    dump.write_bytes(bytes(damaged))
    target = make_database("bk_damaged")

    with pytest.raises(CommandError, match="checksum mismatch") as refused:
        call_command("restore", "--from", str(manifest_path), "--into", url_of(target))

    assert manifest["dump"]["sha256"] in str(refused.value)
    assert not pgtools.database_exists(target), "nothing is created before the check"


def test_restore_into_a_database_that_holds_tables_needs_force(backup_dir, db, make_database):
    call_command("backup")
    _manifest_path, dump, manifest = only_backup(backup_dir)
    target = make_database("bk_busy")
    pgtools.create_database(target)
    with target.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (1)")

    with pytest.raises(CommandError, match="is not empty"):
        call_command("restore", "--from", str(dump), "--into", url_of(target))
    assert counts_in(target, ["keep_me", "django_migrations"]) == {
        "keep_me": 1,
        "django_migrations": None,
    }

    call_command(
        "restore", "--from", manifest["name"] + ".dump", "--into", url_of(target), "--force"
    )
    assert counts_in(target, manifest["row_counts"]) == manifest["row_counts"]
    assert counts_in(target, ["keep_me"]) == {"keep_me": 1}, "objects not in the dump stay"


def test_restore_with_force_replaces_what_an_earlier_restore_left(
    backup_dir, source_database, make_database
):
    call_command("backup", "--database-url", url_of(source_database))
    _manifest_path, dump, manifest = only_backup(backup_dir)
    target = make_database("bk_twice")
    call_command("restore", "--from", str(dump), "--into", url_of(target))
    with target.connect(autocommit=True) as conn:
        conn.execute("DELETE FROM billing_order")

    call_command("restore", "--from", str(dump), "--into", url_of(target), "--force")

    assert counts_in(target, manifest["row_counts"]) == manifest["row_counts"]


def test_verify_backup_restores_the_newest_backup_checks_it_and_drops_its_scratch_database(
    backup_dir, source_database, capsys
):
    call_command("backup", "--database-url", url_of(source_database))
    manifest_path, _dump, manifest = only_backup(backup_dir)

    call_command("verify_backup")

    record = json.loads((backup_dir / f"{manifest['name']}.verify.json").read_text())
    assert record["ok"] is True and record["problems"] == []
    out = capsys.readouterr().out
    assert f"Backup {manifest['name']} verified." in out
    scratch = next(line for line in out.splitlines() if "scratch database" in line).split()[-1]
    assert scratch.startswith("backup_verify_")
    assert not pgtools.database_exists(source_database.with_name(scratch))


def test_verify_backup_fails_when_the_restored_ledger_breaks_the_credits_invariant(
    backup_dir, source_database
):
    with source_database.connect(autocommit=True) as conn:
        conn.execute(
            "UPDATE credits_creditbalance SET balance = balance + 5 WHERE user_id = "
            "(SELECT id FROM accounts_user WHERE email = 'bob@backup.example')"
        )
    call_command("backup", "--database-url", url_of(source_database))
    manifest_path, _dump, manifest = only_backup(backup_dir)

    with pytest.raises(CommandError, match="FAILED verification") as failed:
        call_command("verify_backup", "--from", str(manifest_path))

    assert "credits ledger invariant" in str(failed.value)
    assert "balance_mismatch" in str(failed.value)
    record = json.loads((backup_dir / f"{manifest['name']}.verify.json").read_text())
    assert record["ok"] is False and len(record["problems"]) == 1


def test_verify_backup_fails_when_row_counts_differ_from_the_manifest(backup_dir, source_database):
    call_command("backup", "--database-url", url_of(source_database))
    manifest_path, _dump, manifest = only_backup(backup_dir)
    manifest["row_counts"]["credits_credittransaction"] += 1
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(CommandError) as failed:
        call_command("verify_backup")

    assert "row count of credits_credittransaction: manifest 5, restored 4" in str(failed.value)


def test_verify_backup_refuses_a_damaged_dump_before_restoring_it(backup_dir, db):
    call_command("backup")
    _manifest_path, dump, manifest = only_backup(backup_dir)
    dump.write_bytes(dump.read_bytes()[:-10])

    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command("verify_backup", "--from", manifest["name"])


def test_restore_refuses_a_dump_without_its_manifest(backup_dir, db, make_database):
    call_command("backup")
    manifest_path, dump, _manifest = only_backup(backup_dir)
    manifest_path.unlink()

    with pytest.raises(CommandError, match="without its manifest"):
        call_command(
            "restore", "--from", str(dump), "--into", url_of(make_database("bk_nomanifest"))
        )
