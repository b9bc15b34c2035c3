"""What other apps settle before an account is deleted. Each app registers its part.

    from accounts import deletion
    deletion.register("billing", preview=fn, settle=fn)   # in the app's AppConfig.ready()

accounts does not know what the other apps hold (billing depends on accounts, not the other
way round), so the delete page and ``accounts.services.delete_account`` go through here:

* ``preview(user) -> list[str]``: plain sentences for the customer, shown on the confirmation
  page before they confirm ("Your Pro subscription will be cancelled now"). Read-only.
* ``settle(user) -> None``: called by ``delete_account`` before the personal data is erased,
  outside any transaction (it may call a payment provider, which must not happen under a row
  lock). Raising a ``DomainError`` stops the deletion: the account is not anonymised and
  the customer may try again, so a settle function must be safe to run again after a
  partial run. What it does is the system's doing (``actor=None``), audited with a reason.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Part:
    preview: Callable[[Any], list[str]]
    settle: Callable[[Any], Any]


_PARTS: dict[str, Part] = {}


def register(
    name: str, *, preview: Callable[[Any], list[str]], settle: Callable[[Any], Any]
) -> None:
    """Add (or replace, on re-import) the part ``name`` of an account deletion."""
    if not name or not callable(preview) or not callable(settle):
        raise ValueError("register() needs a name, a preview and a settle callable")
    _PARTS[name] = Part(preview=preview, settle=settle)


def parts() -> dict[str, Part]:
    return dict(_PARTS)


def preview(user) -> list[str]:
    """Every registered app's sentences about what deleting ``user``'s account will do."""
    return [line for part in _PARTS.values() for line in part.preview(user)]


def settle(user) -> None:
    """Run every registered app's settlement for ``user``, in registration order."""
    for part in list(_PARTS.values()):
        part.settle(user)
