"""What the catalog needs to know about purchases, told by the app that sells (billing).

The catalog sits below billing: it never imports it. Billing registers its answers from its
AppConfig.ready():

    from catalog import purchases
    purchases.register(verified_purchase=..., quantity_limit=..., sold_by=...,
                       trial_days_for=..., download_included=...)

- ``verified_purchase(user=, product=) -> bool``: a review of ``product`` by ``user`` is a
  verified purchase (the customer paid for it).
- ``quantity_limit(product) -> int``: how many units one cart line may hold (product page).
- ``sold_by(plan, price) -> str``: "manual" (by invoice) or "stripe" (pricing page).
- ``trial_days_for(user=, plan=) -> int``: the trial this customer would get (pricing page).
- ``download_included(user=, product=) -> bool``: the customer's live plan includes downloads
  of ``product`` (product page: "included in your plan").
"""

from collections.abc import Callable
from typing import Any

_ANSWERS: dict[str, Callable[..., Any]] = {}
NAMES = ("verified_purchase", "quantity_limit", "sold_by", "trial_days_for", "download_included")


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


def verified_purchase(*, user: Any, product: Any) -> bool:
    return bool(_answer("verified_purchase")(user=user, product=product))


def quantity_limit(product: Any) -> int:
    return _answer("quantity_limit")(product)


def sold_by(plan: Any, price: Any) -> str:
    return _answer("sold_by")(plan, price)


def trial_days_for(*, user: Any, plan: Any) -> int:
    return _answer("trial_days_for")(user=user, plan=plan)


def download_included(*, user: Any, product: Any) -> bool:
    return bool(_answer("download_included")(user=user, product=product))
