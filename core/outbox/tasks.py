"""Celery tasks: the outbox's relay and pruning (both safe to run twice or concurrently).

Their names keep the package the outbox was first written in (``core.outbox``): rows
already in the outbox and beat's periodic tasks name them so.
"""

from celery import shared_task

from core.outbox import services


@shared_task(name="config.outbox.tasks.relay_outbox", time_limit=120, soft_time_limit=100)
def relay_outbox() -> dict[str, int]:
    """Publish what requests could not (broker down at their commit, process died)."""
    return services.relay()


@shared_task(name="config.outbox.tasks.prune_outbox", time_limit=600, soft_time_limit=540)
def prune_outbox() -> int:
    """Delete rows published more than a week ago."""
    return services.prune()
