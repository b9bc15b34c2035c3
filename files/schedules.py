SCHEDULES = [
    {
        "name": "files.purge_deleted_files",
        "task": "files.tasks.purge_deleted_files",
        "crontab": {"minute": "20", "hour": "4"},
        "description": "Remove customer files deleted more than the retention period ago",
    },
]
