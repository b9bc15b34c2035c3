"""Transactional outbox: Celery work is written to the database in the caller's transaction
and published to the broker after the commit, by the request itself when the broker answers,
else by the relay (beat every 30 s, each worker at start-up, ``manage.py relay_outbox``).

No task is ever published only from memory, so a broker outage delays work but loses none.
Delivery is at least once: every task queued here must be safe to run twice.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from core.outbox.models import OutboxMessage

F = TypeVar("F", bound=Callable[..., Any])


def enqueue(task: str, *args: Any, **kwargs: Any) -> "OutboxMessage":
    """``outbox.enqueue("app.tasks.name", *args, **kwargs)``: see core.outbox.services.enqueue."""
    # The package is imported when its app loads, before models may be: services on use.
    from core.outbox.services import enqueue as enqueue_task  # noqa: PLC0415 - why: the comment above

    return enqueue_task(task, *args, **kwargs)


def effect_once(fn: F) -> F:
    """``@outbox.effect_once``: see core.outbox.services.effect_once."""
    # The package is imported when its app loads, before models may be: services on use.
    from core.outbox.services import effect_once as wrap  # noqa: PLC0415 - why: the comment above

    return wrap(fn)
