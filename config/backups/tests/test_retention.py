"""Retention: the newest backup of each of the last N days and M weeks stays, the rest goes."""

import json
from datetime import UTC, datetime, timedelta

import time_machine
from django.core.management import call_command

from config.backups import retention
from config.backups.manifest import backup_name
from config.backups.services import apply_retention


def at(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)  # 2026-11-02 is a Monday


def fake_backup(folder, name: str, *, manifest: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.dump").write_bytes(b"PGDMP fake")
    if manifest:
        (folder / f"{name}.manifest.json").write_text(json.dumps({"name": name}))
        (folder / f"{name}.verify.json").write_text(json.dumps({"ok": True}))


def names_in(folder) -> set[str]:
    return {path.name for path in folder.iterdir() if path.is_file()}


def test_keeps_the_newest_of_each_recent_day_and_week():
    # Nightly backups for four weeks, and a second, manual one on the last day.
    times = [at(day) for day in range(2, 30)] + [at(29, 15)]

    kept = retention.to_keep(times, daily=3, weekly=3)

    # Days: the 29th (its later backup only), 28th, 27th. Weeks (Monday to Sunday): the week
    # of the 23rd-29th is the 29th's; then the Sundays of the two weeks before it.
    assert sorted(kept) == [at(15), at(22), at(27), at(28), at(29, 15)]


def test_keeps_only_the_newest_with_no_daily_or_weekly():
    assert retention.to_keep([at(3), at(4), at(5)], daily=0, weekly=0) == {at(5)}


def test_days_and_weeks_without_a_backup_do_not_count():
    # Backups on the 2nd, 9th and 16th only: three days that have one, three weeks.
    times = [at(2), at(9), at(16)]
    assert retention.to_keep(times, daily=2, weekly=0) == {at(9), at(16)}
    assert retention.to_keep(times, daily=0, weekly=5) == set(times)


def test_apply_retention_deletes_every_file_of_a_pruned_backup_and_stale_unfinished_dumps(
    backup_dir,
):
    for day in (20, 25, 26, 27):
        fake_backup(backup_dir, backup_name("billing", at(day)))
    fake_backup(backup_dir, backup_name("other", at(1)))  # another database's: its own rules
    fake_backup(backup_dir, backup_name("billing", at(10)), manifest=False)  # died, long ago
    fake_backup(backup_dir, backup_name("billing", at(27, 3)), manifest=False)  # still running?
    (backup_dir / "notes.txt").write_text("not a backup")

    deleted = apply_retention(database="billing", now=at(27, 4), daily=2, weekly=1)

    assert sorted(deleted) == [
        "billing-20261110T020000Z",
        "billing-20261120T020000Z",
        "billing-20261125T020000Z",
    ]
    assert names_in(backup_dir) == {
        "billing-20261126T020000Z.dump",
        "billing-20261126T020000Z.manifest.json",
        "billing-20261126T020000Z.verify.json",
        "billing-20261127T020000Z.dump",
        "billing-20261127T020000Z.manifest.json",
        "billing-20261127T020000Z.verify.json",
        "billing-20261127T030000Z.dump",
        "other-20261101T020000Z.dump",
        "other-20261101T020000Z.manifest.json",
        "other-20261101T020000Z.verify.json",
        "notes.txt",
    }


def test_a_backup_applies_retention_to_its_database_afterwards(
    backup_dir, db, settings, test_database
):
    settings.BACKUP_KEEP_DAILY = 2
    settings.BACKUP_KEEP_WEEKLY = 2
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
    earlier = {
        days: backup_name(test_database.name, now - timedelta(days=days)) for days in (1, 2, 9, 30)
    }
    for name in earlier.values():
        fake_backup(backup_dir, name)

    with time_machine.travel(now, tick=True):
        call_command("backup")

    kept = {path.name.removesuffix(".manifest.json") for path in backup_dir.glob("*.manifest.json")}
    # Days: today's new backup and yesterday's. Weeks: this one (today's), and the newest of
    # the week before that has one (9 days ago). Two days ago and a month ago go.
    assert kept == {backup_name(test_database.name, now), earlier[1], earlier[9]}
    assert names_in(backup_dir).isdisjoint(
        {
            f"{earlier[days]}{suffix}"
            for days in (2, 30)
            for suffix in (".dump", ".manifest.json", ".verify.json")
        }
    )
