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
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from django.db.models.base import ModelState
from psycopg.types.datetime import TimestamptzLoader

M = TypeVar("M", bound=Model)


class PreparedCursor(psycopg.Cursor[tuple[Any, ...]]):
    """A server-binding psycopg cursor whose every execute is prepared."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> "PreparedCursor":
        return super().execute(query, params, **{**kwargs, "prepare": True})


class _KeptCursor(CursorWrapper):
    """Django's wrapper around the PreparedCursor kept on a connection: leaving a ``with``
    block hands it back for the next call instead of closing it (building a psycopg cursor,
    its adapters and Django's wrapper cost a consume about a tenth of its Python). Closed
    with its connection."""

    in_use = False

    def __exit__(self, type: Any, value: Any, traceback: Any) -> None:
        self.in_use = False


def prepared_cursor() -> Any:
    """A PreparedCursor on the default connection, in Django's cursor wrapper (use it in a
    ``with`` block, as ``connection.cursor()``); Django's own cursor when
    ``DB_PREPARED_STATEMENTS`` is off. The same cursor serves each call on a connection; a
    call made while it is in use (inside another's ``with`` block) gets one of its own."""
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
    kept: _KeptCursor | None = getattr(db, "_kept_prepared_cursor", None)
    if kept is not None and not kept.in_use and kept.cursor.connection is raw and not raw.closed:
        kept.in_use = True
        return kept
    cursor: Any = _new_cursor(raw)  # Django's stubs type make_cursor as taking its wrapper
    if kept is not None and kept.in_use and kept.cursor.connection is raw:
        return db.make_cursor(cursor)  # closed by its own ``with`` block
    kept = _KeptCursor(cursor, db)
    kept.in_use = True
    db._kept_prepared_cursor = kept  # type: ignore[attr-defined]
    return kept


def _new_cursor(raw: Any) -> PreparedCursor:
    if raw.prepare_threshold is None:
        # Django sets it to None, which makes psycopg refuse to prepare anything, even when
        # asked. A threshold no statement reaches keeps automatic preparing off: only an
        # explicit prepare (this cursor's) prepares. Django's own cursors bind on the client,
        # which never prepares.
        raw.prepare_threshold = sys.maxsize
    cursor = PreparedCursor(raw)
    if settings.USE_TZ:
        # Django loads timestamptz with a Python subclass of psycopg's loader that sets the
        # connection's zone on each value; psycopg's own (compiled) loader reads the same
        # instant in the session's zone, which Django sets to that zone: equal values at a
        # fraction of the cost (a page of 25 rows spent a tenth of its time there).
        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
    return cursor


def loaded_instance(model: type[M], values: dict[str, Any]) -> M:
    """An instance of ``model`` for a row a prepared statement read from the default
    database: ``values`` holds every concrete field by attname. Built as Django rebuilds a
    pickled instance (its ``__dict__`` set directly, without ``__init__``), at a fraction of
    ``Model.from_db``'s cost; a test holds the two equal."""
    instance = model.__new__(model)
    instance.__dict__.update(values)
    state = instance._state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    return instance
