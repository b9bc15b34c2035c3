"""What a customer's plan means for credits, told by the app that sells plans (billing).

Credits sits below billing: it never imports it. Billing registers its answers from its
AppConfig.ready():

    from credits import plans
    plans.register(plan_for_user=..., entitlements_for=..., upgrade_prompt=...,
                   require_entitlement=...)

- ``plan_for_user(user=)``: the customer's current catalog Plan, or None; its
  ``feature_cost_overrides`` are the plan's own costs per operation.
- ``entitlements_for(user=) -> set[str]``: what the customer may use now.
- ``upgrade_prompt(user, key, owned=, plans=)``: None, or what the customer lacks and which
  plans include it.
- ``require_entitlement(user, key)``: raises EntitlementRequired (403) when the customer lacks
  ``key``.
"""

from collections.abc import Callable
from typing import Any

_ANSWERS: dict[str, Callable[..., Any]] = {}
NAMES = ("plan_for_user", "entitlements_for", "upgrade_prompt", "require_entitlement")


def register(**answers: Callable[..., Any]) -> None:
    """Register (or replace) any of the answers named in ``NAMES``."""
    for name, fn in answers.items():
        if name not in NAMES or not callable(fn):
            raise ValueError(f"register() takes callables named {', '.join(NAMES)}")
        _ANSWERS[name] = fn


def _answer(name: str) -> Callable[..., Any]:
    try:
        return _ANSWERS[name]
    except KeyError:
        raise RuntimeError(f"No {name!r} is registered (billing app not loaded).") from None


def plan_for_user(*, user: Any) -> Any:
    return _answer("plan_for_user")(user=user)


def entitlements_for(*, user: Any) -> set[str]:
    return _answer("entitlements_for")(user=user)


def upgrade_prompt(
    user: Any, key: str, *, owned: set[str] | None = None, plans: list | None = None
) -> dict | None:
    return _answer("upgrade_prompt")(user, key, owned=owned, plans=plans)


def require_entitlement(user: Any, key: str) -> None:
    _answer("require_entitlement")(user, key)
