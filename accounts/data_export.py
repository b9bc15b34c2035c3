"""The sections of "download my data". Each app registers what it holds about a user.

    from accounts import data_export
    data_export.register("orders", lambda user: data_export.rows(Order.objects.filter(...),
                                                                 order_row))

A section function takes the user and returns JSON-able data about that user only (dates
may be returned as date/datetime objects: the export serialises them with DjangoJSONEncoder).
Whatever can grow with the account's history (a ledger, a log, orders) is returned as
``rows(queryset, fn)``: an iterator the export writes as a JSON array while it reads the rows
a chunk at a time, so an export's memory stays the same for ten rows or ten million. Lists,
dicts and such iterators may nest; each item an iterator yields is written whole.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections

from core.models import AuditLog

SectionFn = Callable[[Any], Any]
_SECTIONS: dict[str, SectionFn] = {}

# Rows read per round trip (server-side cursor), and the size of the pieces written out.
CHUNK_ROWS = 2000
PIECE_BYTES = 64 * 1024


def register(section: str, fn: SectionFn) -> None:
    """Add (or replace, on re-import) the export section ``section``."""
    if not section or not callable(fn):
        raise ValueError("register() needs a section name and a callable")
    _SECTIONS[section] = fn


def sections() -> dict[str, SectionFn]:
    return dict(_SECTIONS)


def rows(
    queryset, fn: Callable[[Any], Any] | None = None, *, chunk_size: int = CHUNK_ROWS
) -> Iterator:
    """``fn(row)`` (or the row itself) for every row of ``queryset``, read ``chunk_size`` rows
    at a time.

    Through a server-side cursor (``QuerySet.iterator``; its ``prefetch_related`` runs per
    chunk). Where server-side cursors are off (a pool in transaction mode,
    ``DISABLE_SERVER_SIDE_CURSORS``) Django would fetch the whole result at once, so the rows
    are read in primary-key pages instead, and come in primary-key order. A ``values()``
    queryset (cheaper for a long list: no model instances) must then include "id".
    """
    connection = connections[queryset.db]
    if not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        found = queryset.iterator(chunk_size=chunk_size)
    else:
        found = _pages(queryset, chunk_size)
    return found if fn is None else map(fn, found)


def _pages(queryset, size: int) -> Iterator:
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        batch = list(page[:size])
        yield from batch
        if len(batch) < size:
            return
        last = batch[-1]["id"] if isinstance(batch[-1], dict) else batch[-1].pk


def json_pieces(value, *, encoder: type[json.JSONEncoder] = DjangoJSONEncoder) -> Iterator[str]:
    """The JSON text of ``value`` in pieces of about ``PIECE_BYTES``: dicts and lists as
    usual, any other iterable (``rows``) as an array written item by item as it is read, one
    item a line."""
    encode = encoder(ensure_ascii=False).encode
    buffered, size = [], 0
    for piece in _pieces(value, encode, 0):
        buffered.append(piece)
        size += len(piece)
        if size >= PIECE_BYTES:
            yield "".join(buffered)
            buffered, size = [], 0
    if buffered:
        yield "".join(buffered)


def _pieces(value, encode, depth: int) -> Iterator[str]:
    if isinstance(value, dict):
        indent = "\n" + "  " * (depth + 1)
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield f"{',' if index else ''}{indent}{encode(str(key))}: "
            yield from _pieces(item, encode, depth + 1)
        yield "\n" + "  " * depth + "}" if value else "}"
    elif isinstance(value, Iterable) and not isinstance(value, str | bytes | bytearray):
        indent = "\n" + "  " * (depth + 1)
        yield "["
        empty = True
        for index, item in enumerate(value):
            empty = False
            yield f"{',' if index else ''}{indent}"
            if isinstance(item, dict | list | tuple):
                yield encode(item)
            else:
                yield from _pieces(item, encode, depth + 1)
        yield "]" if empty else "\n" + "  " * depth + "]"
    else:
        yield encode(value)


def _iso(value):
    return value.isoformat() if value is not None else None


def profile_section(user) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "email_verified": user.email_verified,
        "email_verified_at": _iso(user.email_verified_at),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name,
        "avatar_url": user.avatar_url,
        "phone": user.phone,
        "date_of_birth": _iso(user.date_of_birth),
        "gender": user.gender,
        "timezone": user.timezone,
        "language": user.language,
        "billing_address": user.billing_address,
        "tax_id": user.tax_id,
        "role": user.role,
        "status": user.status,
        "created_at": _iso(user.created_at),
        "last_login": _iso(user.last_login),
    }


def login_sessions_section(user) -> Iterator[dict]:
    return rows(
        user.login_sessions.order_by("created_at", "id"),
        lambda s: {
            "id": s.pk,
            "ip_address": s.ip_address,
            "user_agent": s.user_agent,
            "created_at": _iso(s.created_at),
            "last_seen_at": _iso(s.last_seen_at),
            "expires_at": _iso(s.expires_at),
            "revoked_at": _iso(s.revoked_at),
        },
    )


def api_keys_section(user) -> Iterator[dict]:
    return rows(
        user.api_keys.order_by("created_at", "id"),
        lambda k: {
            "id": k.pk,
            "name": k.name,
            "prefix": k.prefix,
            "scopes": k.scopes,
            "created_at": _iso(k.created_at),
            "last_used_at": _iso(k.last_used_at),
            "revoked_at": _iso(k.revoked_at),
        },
    )


def stored_files_section(user) -> Iterator[dict]:
    return rows(
        user.stored_files.filter(deleted_at=None).order_by("created_at", "id"),
        lambda f: {
            "id": f.pk,
            "name": f.name,
            "content_type": f.content_type,
            "size_bytes": f.size_bytes,
            "url": f.url,
            "created_at": _iso(f.created_at),
        },
    )


def activity_section(user) -> Iterator[dict]:
    # Read along the (actor, created_at) index, as plain values: it can be long.
    return rows(
        AuditLog.objects.filter(actor=user)
        .order_by("created_at", "id")
        .values("id", "action", "resource_type", "resource_id", "ip_address", "created_at"),
        lambda row: {
            "action": row["action"],
            "resource_type": row["resource_type"],
            "resource_id": row["resource_id"],
            "ip_address": row["ip_address"],
            "created_at": _iso(row["created_at"]),
        },
    )


register("profile", profile_section)
register("login_sessions", login_sessions_section)
register("api_keys", api_keys_section)
register("stored_files", stored_files_section)
register("activity", activity_section)
