"""What authenticating an API key needs, cached: key hash -> the key's and its user's few
fields, so a request with a known key makes no query to be authenticated.

An entry holds the key's id, expiry, scopes and last use, and its user's id, role, status,
``is_active`` and entitlements (what their plan includes now, from ``accounts.entitlements``:
the API's ``api_access`` check costs no query). Only keys that are not revoked are cached,
for ``ENTRY_SECONDS``. Expiry is checked on every request against the cached ``expires_at``.

Invalidation: the services that change what an entry says call ``forget`` (``revoke_api_key``)
or ``forget_user`` (``change_status``, ``delete_account``, ``change_role``; billing when a
subscription is saved or a plan's entitlements change). That replaces the
entries with a "dropped" marker for ``ENTRY_SECONDS``, at once and again after the commit.
While the marker is there, requests read the rows from the database and cache nothing, so a
request that read the rows just before the commit cannot put the old entry back: the next
request after the service returns sees the change. A change made without those services (a
raw UPDATE, a shell, a past-due grace period running out) is seen within ``ENTRY_SECONDS``;
so is one made while the cache was unreachable (config.cache answers misses and drops writes then).

``last_used_at`` is written at most once per ``LAST_USED_RESOLUTION_SECONDS`` per key, by a
conditional UPDATE (two workers never both write it).

``request.user`` is built from the entry: a User with id, role, status and is_active loaded;
reading any other field loads all the others in one query, so views that need only the
user's id (consuming credits, the credits summary) never load the row.
"""

import functools
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction

from accounts import entitlements
from accounts.models import STAFF_ROLES, ApiKey, User

CACHE_PREFIX = "apikey:v2:"
ENTRY_SECONDS = 60
LAST_USED_RESOLUTION_SECONDS = 60
_DROPPED = "dropped"


def _name(hashed_key: str) -> str:
    return CACHE_PREFIX + hashed_key


def credential(hashed_key: str, *, now: datetime) -> dict | None:
    """The entry for a key hash, its use recorded (see the module docstring); None for an
    unknown or revoked key. From the cache, else one narrow query."""
    cached = cache.get(_name(hashed_key))
    if isinstance(cached, dict):
        if _stale(cached, now) and cache.add(
            f"{CACHE_PREFIX}used:{cached['key_id']}", 1, LAST_USED_RESOLUTION_SECONDS
        ):
            _record_use(cached["key_id"], now)
        return cached
    entry = _read(hashed_key)
    if entry is None:
        return None
    if _stale(entry, now):
        _record_use(entry["key_id"], now)
        entry["last_used_at"] = now
    if cached is None:  # not dropped a moment ago
        cache.add(_name(hashed_key), entry, ENTRY_SECONDS)
    return entry


def _read(hashed_key: str) -> dict | None:
    row = (
        ApiKey.objects.filter(hashed_key=hashed_key, revoked_at__isnull=True)
        .values_list(
            "id",
            "user_id",
            "scopes",
            "last_used_at",
            "expires_at",
            "user__role",
            "user__status",
            "user__is_active",
        )
        .first()
    )
    if row is None:
        return None
    key_id, user_id, scopes, last_used_at, expires_at, role, status, is_active = row
    owned = () if role in STAFF_ROLES else entitlements.entitlements_of(User(pk=user_id, role=role))
    return {
        "key_id": key_id,
        "user_id": user_id,
        "scopes": list(scopes),
        "last_used_at": last_used_at,
        "expires_at": expires_at,
        "role": role,
        "status": status,
        "is_active": is_active,
        "entitlements": sorted(owned),
    }


def _stale(entry: dict, now: datetime) -> bool:
    last = entry["last_used_at"]
    return last is None or last < now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)


def _record_use(key_id: int, now: datetime) -> None:
    stale_before = now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
    ApiKey.objects.filter(pk=key_id).exclude(last_used_at__gte=stale_before).update(
        last_used_at=now
    )


def is_expired(entry: dict, now: datetime) -> bool:
    return entry["expires_at"] is not None and entry["expires_at"] <= now


def user_for(entry: dict) -> User:
    """The entry's user with only the cached fields loaded; reading any other field loads all
    the rest in one query."""
    user = _from_db(
        User,
        {
            "id": entry["user_id"],
            "role": entry["role"],
            "status": entry["status"],
            "is_active": entry["is_active"],
        },
    )
    # On this object only: Django would load each deferred field with a query of its own.
    user.refresh_from_db = functools.partial(_refresh_together, user)
    entitlements.remember(user, entry["entitlements"])
    return user


def key_for(entry: dict) -> ApiKey:
    """The ApiKey row as ``request.auth``, with the cached fields loaded."""
    return _from_db(
        ApiKey,
        {
            "id": entry["key_id"],
            "user_id": entry["user_id"],
            "scopes": entry["scopes"],
            "last_used_at": entry["last_used_at"],
            "expires_at": entry["expires_at"],
            "revoked_at": None,
        },
    )


def _from_db(model, values: dict):
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(DEFAULT_DB_ALIAS, names, [values[name] for name in names])


def _refresh_together(user: User, using=None, fields=None, from_queryset=None) -> None:
    deferred = user.get_deferred_fields()
    if fields is not None and deferred and set(fields) <= deferred:
        fields = list(deferred)
    User.refresh_from_db(user, using=using, fields=fields, from_queryset=from_queryset)


# --- invalidation: the services call these inside their transaction -----------------------------


def forget(*hashed_keys: str) -> None:
    """Drop these keys' entries now and again after the current transaction commits."""
    if not hashed_keys:
        return
    dropped = {_name(hashed): _DROPPED for hashed in hashed_keys}
    cache.set_many(dropped, ENTRY_SECONDS)
    transaction.on_commit(lambda: cache.set_many(dropped, ENTRY_SECONDS))


def forget_user(user_id: int) -> None:
    """Drop the entries of every key of this user (their status, role or plan changed)."""
    forget_users([user_id])


def forget_users(user_ids) -> None:
    """Drop the entries of every key of these users (a query or a list of ids)."""
    forget(*ApiKey.objects.filter(user_id__in=user_ids).values_list("hashed_key", flat=True))
