from celery import shared_task

from files import services


@shared_task(name="files.tasks.purge_deleted_files", time_limit=600, soft_time_limit=540)
def purge_deleted_files() -> int:
    """Remove files deleted more than the retention period ago (blob and rows)."""
    return services.purge()
