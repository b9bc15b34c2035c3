"""Transactional outbox: Celery work is written to the database in the caller's transaction
and published to the broker after the commit, by the request itself when the broker answers,
else by the relay (beat every 30 s, each worker at start-up, ``manage.py relay_outbox``).

No task is ever published only from memory, so a broker outage delays work but loses none.
Delivery is at least once: every task queued here must be safe to run twice.
"""


def enqueue(task: str, *args, **kwargs):
    """``outbox.enqueue("app.tasks.name", *args, **kwargs)``: see core.outbox.services.enqueue."""
    from core.outbox.services import enqueue as enqueue_task

    return enqueue_task(task, *args, **kwargs)


def effect_once(fn):
    """``@outbox.effect_once``: see core.outbox.services.effect_once."""
    from core.outbox.services import effect_once as wrap

    return wrap(fn)
