"""A database that stops answering in the middle of a request: what every answer shares.

PostgreSQL can drop a connection under a running request (a restart or failover, an operator's
``pg_terminate_backend``, a network cut). The API's exception handler (``core.api``) and the
project's middleware (``config.middleware``) both answer a clean 503 the client may retry, with
this code and message, and make sure the broken connection is not used again.
"""

import logging

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest

logger = logging.getLogger(__name__)

# OperationalError also covers what PostgreSQL reports for a deadlock, a lock or statement
# timeout and a serialization failure: all transient, all rolled back, all worth a retry.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
CODE = "service_unavailable"
MESSAGE = (
    "The service is briefly unavailable and this request was not completed. "
    "Please try again in a moment."
)
RETRY_AFTER_SECONDS = 5


def discard_broken_connections() -> None:
    """Close every connection the failure left unusable; the next query opens a new one.

    A connection still inside an atomic block is left to that block: when its rollback fails,
    Django closes the connection itself on the way out.
    """
    for connection in connections.all(initialized_only=True):
        if (
            connection.connection is not None
            and not connection.in_atomic_block
            and not connection.is_usable()
        ):
            connection.close()


def report(request: HttpRequest, exception: Exception) -> None:
    logger.error(
        "Database unavailable during %s %s: %s",
        request.method,
        request.path,
        exception.__class__.__name__,
        exc_info=exception,
    )
