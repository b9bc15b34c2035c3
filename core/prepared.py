"""Prepared statements for the statements the product runs over and over with the same text:
a credits consume, the credits summary's figures, the plain product list.

Django binds parameters on the client and leaves psycopg's automatic preparing off, so
PostgreSQL parses and plans every statement it receives. A ``prepared_cursor()`` binds on the
server and prepares its statement: psycopg keeps it per connection, PostgreSQL plans it once
(or keeps a generic plan when that costs no more than planning each time), and each call sends
only the values. It is wrapped as Django wraps its own cursors, so errors are Django's. While
queries are logged (DEBUG, a test counting them) it is Django's own cursor, which logs them.
Only for statements whose text is constant: each distinct text is one prepared statement on
the connection. ``DB_PREPARED_STATEMENTS=false`` turns it off (a pooler in transaction mode
that cannot carry prepared statements).
"""

import sys
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg.types.datetime import TimestamptzLoader


class PreparedCursor(psycopg.Cursor[tuple[Any, ...]]):
    """A server-binding psycopg cursor whose every execute is prepared."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> "PreparedCursor":
        return super().execute(query, params, **{**kwargs, "prepare": True})


def prepared_cursor() -> Any:
    """A PreparedCursor on the default connection, in Django's cursor wrapper (use it in a
    ``with`` block, as ``connection.cursor()``); Django's own cursor when
    ``DB_PREPARED_STATEMENTS`` is off."""
    # The default connection looked up once: each ``connection.x`` goes through Django's
    # proxy and a context-local lookup, which a consume would pay a few times over.
    db = connections[DEFAULT_DB_ALIAS]
    if not settings.DB_PREPARED_STATEMENTS or db.queries_logged:
        # While queries are logged (DEBUG, or a test capturing them), Django reads each
        # statement's text back from the cursor, and psycopg keeps none for a prepared one.
        return db.cursor()
    db.ensure_connection()
    db.validate_thread_sharing()
    raw = db.connection
    if raw.prepare_threshold is None:
        # Django sets it to None, which makes psycopg refuse to prepare anything, even when
        # asked. A threshold no statement reaches keeps automatic preparing off: only an
        # explicit prepare (this cursor's) prepares. Django's own cursors bind on the client,
        # which never prepares.
        raw.prepare_threshold = sys.maxsize
    # Django's stubs type this as taking its own wrapper; it takes any DB-API cursor.
    cursor: Any = PreparedCursor(raw)
    if settings.USE_TZ:
        # Django loads timestamptz with a Python subclass of psycopg's loader that sets the
        # connection's zone on each value; psycopg's own (compiled) loader reads the same
        # instant in the session's zone, which Django sets to that zone: equal values at a
        # fraction of the cost (a page of 25 rows spent a tenth of its time there).
        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
    return db.make_cursor(cursor)
