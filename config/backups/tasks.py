"""Celery tasks: the nightly backup, then the verification of what it wrote."""

import logging

from celery import shared_task

from config.backups import services
from core import outbox

logger = logging.getLogger("config.backups")

# Well under REDIS_VISIBILITY_TIMEOUT (2 h), or Redis would hand a long backup to a second
# worker while the first still runs it.
TIME_LIMIT = 60 * 60


@shared_task(
    name="config.backups.tasks.backup_database",
    time_limit=TIME_LIMIT,
    soft_time_limit=TIME_LIMIT - 300,
)
def backup_database() -> str:
    """Nightly: back up the default database, apply retention, then queue its verification.
    Run twice, it makes two backups (retention keeps what the rules say)."""
    manifest = services.create_backup()
    outbox.enqueue("config.backups.tasks.verify_backup", manifest["name"])
    return manifest["name"]


@shared_task(
    name="config.backups.tasks.verify_backup",
    time_limit=TIME_LIMIT,
    soft_time_limit=TIME_LIMIT - 300,
)
def verify_backup(name: str) -> bool:
    """Restore backup ``name`` into a scratch database and check it (services.verify_backup);
    a failure is logged as an error and recorded in ``<name>.verify.json``. Safe to run
    twice."""
    result = services.verify_backup(spec=name)
    if not result.ok:
        logger.critical(
            "Backup %s does not restore as its manifest says: %s", name, "; ".join(result.problems)
        )
    return result.ok
