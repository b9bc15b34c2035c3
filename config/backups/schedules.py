# After the night's rollup (00:15) and before the credits invariant check (03:30); the task
# queues the verification of the backup it made.
SCHEDULES = [
    {
        "name": "backups.nightly",
        "task": "config.backups.tasks.backup_database",
        "crontab": {"minute": "0", "hour": "2"},
        "description": "manage.py backup, then verify_backup of the new backup",
    },
]
