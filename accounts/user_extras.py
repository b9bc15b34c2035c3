"""What other apps show about a user on the account's own pages and on ``GET /me``.

An app above accounts that knows something about every user (the membership) registers it
from its AppConfig.ready():

    from accounts import user_extras
    user_extras.register("membership", api_body=membership_body,
                         api_serializer=MembershipSerializer, page_value=membership_of)

``api_body(user) -> dict`` is the value of that field on ``/me`` (documented by
``api_serializer``); ``page_value(user=)`` is what the account overview page shows.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UserExtra:
    api_body: Callable[[Any], dict]
    api_serializer: type
    page_value: Callable[..., Any]


_EXTRAS: dict[str, UserExtra] = {}


def register(
    name: str,
    *,
    api_body: Callable[[Any], dict],
    api_serializer: type,
    page_value: Callable[..., Any],
) -> None:
    """Add (or replace, on re-import) the extra ``name``."""
    _EXTRAS[name] = UserExtra(api_body, api_serializer, page_value)


def named(name: str) -> UserExtra:
    try:
        return _EXTRAS[name]
    except KeyError:
        raise RuntimeError(
            f"No user extra {name!r} is registered (its app is not loaded)."
        ) from None
