"""What else happens when an account is created. Each app that gives a new account something
registers a hook here, from its AppConfig.ready():

    from accounts import signup_hooks
    signup_hooks.register("credits.signup_bonus", grant_signup_bonus)

A hook takes the new user (``fn(user=user)``) and runs inside the transaction that creates the
account, whichever way it was created (the signup page, the API, social sign-in): a failed
signup leaves nothing behind, and every new account gets what every hook gives.
"""

from collections.abc import Callable
from typing import Any

SignupHook = Callable[..., Any]
_HOOKS: dict[str, SignupHook] = {}


def register(name: str, fn: SignupHook) -> None:
    """Add (or replace, on re-import) the hook ``name``; hooks run in registration order."""
    if not name or not callable(fn):
        raise ValueError("register() needs a hook name and a callable")
    _HOOKS[name] = fn


def hooks() -> dict[str, SignupHook]:
    return dict(_HOOKS)


def user_signed_up(*, user: Any) -> None:
    """Run every registered hook for the new ``user``. Call inside the creating transaction."""
    for fn in _HOOKS.values():
        fn(user=user)
