"""Check a request's parameters against stripe-python's typed parameter classes, as Stripe
does: an unknown or misspelt key anywhere (``line_items[0][pricee]``) is refused."""

from __future__ import annotations

import functools
import importlib
import sys
import typing
from typing import (
    Any,
    ForwardRef,
    Literal,
    NotRequired,
    Required,
    Union,
    get_args,
    get_origin,
)

# stripe-python declares its parameters with typing_extensions' TypedDict.
from typing_extensions import is_typeddict


@functools.cache
def params_class(path: str):
    """``"stripe.params.checkout._session_create_params:SessionCreateParams"`` -> the class."""
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _resolve(hint, namespace: dict):
    """An annotation (maybe a string or forward reference) as a type; Any when it names
    something only imported for type checkers."""
    if isinstance(hint, ForwardRef):
        hint = hint.__forward_arg__
    if isinstance(hint, str):
        try:
            hint = eval(hint, namespace)  # noqa: S307 - stripe-python's own annotations
        except NameError:
            return Any
    origin = get_origin(hint)
    if origin in (NotRequired, Required):
        return _resolve(get_args(hint)[0], namespace)
    if origin is Union:
        return Union[tuple(_resolve(arg, namespace) for arg in get_args(hint))]  # noqa: UP007
    if origin in (list, typing.List):  # noqa: UP006
        return typing.List[_resolve(get_args(hint)[0], namespace)]  # noqa: UP006
    return hint


@functools.cache
def _hints(cls) -> dict:
    hints = {}
    for klass in reversed(cls.__mro__):
        namespace = {**vars(typing), **vars(sys.modules[klass.__module__])}
        for key, hint in getattr(klass, "__annotations__", {}).items():
            hints[key] = _resolve(hint, namespace)
    return hints


def unknown_parameter(params: dict, cls) -> str | None:
    """The first parameter (in Stripe's bracket notation) ``cls`` does not declare, or None."""
    return _check_dict(params, cls, "")


def _name(prefix: str, key) -> str:
    return f"{prefix}[{key}]" if prefix else str(key)


def _check_dict(value: dict, cls, prefix: str) -> str | None:
    hints = _hints(cls)
    for key, item in value.items():
        if key not in hints:
            return _name(prefix, key)
        found = _check_value(item, hints[key], _name(prefix, key))
        if found:
            return found
    return None


def _check_value(value, hint, name: str) -> str | None:
    origin = get_origin(hint)
    if is_typeddict(hint):
        return _check_dict(value, hint, name) if isinstance(value, dict) else None
    if origin in (list, typing.List) and isinstance(value, list):  # noqa: UP006
        (inner,) = get_args(hint) or (typing.Any,)
        for index, item in enumerate(value):
            found = _check_value(item, inner, f"{name}[{index}]")
            if found:
                return found
        return None
    if origin is Union:
        candidates = [
            arg
            for arg in get_args(hint)
            if get_origin(arg) is not Literal and arg is not type(None)
        ]
        if isinstance(value, dict):
            shapes = [arg for arg in candidates if is_typeddict(arg)]
        elif isinstance(value, list):
            shapes = [arg for arg in candidates if get_origin(arg) in (list, typing.List)]  # noqa: UP006
        else:
            shapes = []
        if not shapes or any(get_origin(arg) is dict for arg in candidates):
            return None
        results = [_check_value(value, arg, name) for arg in shapes]
        return None if any(result is None for result in results) else results[0]
    return None  # scalars, free-form dicts (metadata): any key
