"""The nightly schedule: a Celery task backs up, then queues the verification of its backup."""

import json

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from config.backups.tasks import backup_database
from core.outbox.models import OutboxMessage


@pytest.mark.django_db(transaction=True)
def test_the_nightly_task_backs_up_then_verifies_that_backup(backup_dir):
    # Eager in tests: the queued verification runs too. A worker started in this process by
    # an earlier test leaves Celery's "never wait inside a task" guard on; this is no task.
    name = backup_database.delay().get(disable_sync_subtasks=False)

    assert (backup_dir / f"{name}.dump").exists()
    assert (backup_dir / f"{name}.manifest.json").exists()
    record = json.loads((backup_dir / f"{name}.verify.json").read_text())
    assert record["name"] == name and record["ok"] is True
    queued = OutboxMessage.objects.get(task="config.backups.tasks.verify_backup")
    assert queued.args == [name] and queued.published_at is not None


@pytest.mark.django_db
def test_setup_periodic_tasks_schedules_the_nightly_backup():
    call_command("setup_periodic_tasks")

    nightly = PeriodicTask.objects.get(name="backups.nightly")
    assert nightly.task == "config.backups.tasks.backup_database"
    assert (nightly.crontab.minute, nightly.crontab.hour) == ("0", "2")
    assert nightly.enabled
