"""Typed, cached, audited run-time settings (SystemConfig rows).

Each app declares its keys with ``define()`` (see ``<app>/config_keys.py``, imported from the
app's ``ready()``). ``get_config(key)`` answers from the cache, then the database, then the
declared default. ``set_config`` validates the type, writes, audits and clears the cache.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError

from core.models import SystemConfig

CACHE_PREFIX = "sysconfig:"
CACHE_SECONDS = 300


@dataclass(frozen=True)
class ConfigKey:
    key: str
    type: type
    default: Any
    description: str
    min_value: Any = None
    max_value: Any = None
    choices: tuple = ()


REGISTRY: dict[str, ConfigKey] = {}


def define(
    key: str,
    *,
    type: type,
    default: Any,
    description: str,
    min_value: Any = None,
    max_value: Any = None,
    choices: Iterable[Any] = (),
) -> ConfigKey:
    """Declare a setting (from an app's ``config_keys`` module, imported by its ``ready()``)."""
    entry = ConfigKey(key, type, default, description, min_value, max_value, tuple(choices))
    REGISTRY[key] = entry
    return entry


def coerce(key: str, raw: Any) -> Any:
    """Turn ``raw`` (from a form or JSON) into the declared type, or raise ValidationError."""
    entry = REGISTRY.get(key)
    if entry is None:
        raise ValidationError(f"Unknown setting {key!r}.")
    value: Any
    try:
        if entry.type is bool:
            if isinstance(raw, str):
                lowered = raw.strip().lower()
                if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(raw)
                value = lowered in {"true", "1", "yes"}
            else:
                value = bool(raw)
        elif entry.type is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            value = int(str(raw).strip())
        elif entry.type is Decimal:
            value = Decimal(str(raw).strip())
            if not value.is_finite():
                raise ValueError(raw)
        elif entry.type is str:
            value = str(raw)
        elif entry.type in (dict, list):
            if not isinstance(raw, entry.type):
                raise ValueError(raw)
            value = raw
        else:
            value = entry.type(raw)
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise ValidationError(f"{key} must be a {entry.type.__name__}; got {raw!r}.") from exc
    if entry.min_value is not None and value < entry.min_value:
        raise ValidationError(f"{key} must be at least {entry.min_value}.")
    if entry.max_value is not None and value > entry.max_value:
        raise ValidationError(f"{key} must be at most {entry.max_value}.")
    if entry.choices and value not in entry.choices:
        raise ValidationError(f"{key} must be one of {', '.join(map(str, entry.choices))}.")
    return value


def to_json(value: Any) -> Any:
    """``value`` as JSON stores it (a Decimal as text)."""
    return str(value) if isinstance(value, Decimal) else value


def _entry(key: str) -> ConfigKey:
    entry = REGISTRY.get(key)
    if entry is None:
        raise KeyError(f"Unknown setting {key!r}: declare it with system_config.define()")
    return entry


def get_config(key: str) -> Any:
    """The setting's value: from the cache, else the database, else the declared default."""
    entry = _entry(key)
    cached = cache.get(CACHE_PREFIX + key)
    if cached is not None:
        return coerce(key, cached["value"])
    row = SystemConfig.objects.filter(key=key).values_list("value", flat=True).first()
    value = entry.default if row is None else coerce(key, row)
    cache.set(CACHE_PREFIX + key, {"value": to_json(value)}, CACHE_SECONDS)
    return value


def get_config_without_database(key: str) -> Any:
    """The setting's value as far as it is known without a query: the cached value, else the
    declared default. For answers given while the database is failing (the 503 page, the
    rate-limit page); a cache that fails too is treated as empty."""
    entry = _entry(key)
    try:
        cached = cache.get(CACHE_PREFIX + key)
    except Exception:  # noqa: BLE001 - the cache may be down too; the default still answers
        cached = None
    return coerce(key, cached["value"]) if cached else entry.default


def forget(key: str) -> None:
    """Drop the cached value: the next read comes from the database."""
    cache.delete(CACHE_PREFIX + key)
