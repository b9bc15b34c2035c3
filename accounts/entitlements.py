"""What a customer's plan includes, for the API: the one permission every API view uses.

Accounts sits below billing, which owns plans and entitlements: it never imports it. Billing
registers its answers from its AppConfig.ready():

    from accounts import entitlements
    entitlements.register(entitlements_for=..., require_entitlement=..., upgrade_prompt=...)

- ``entitlements_for(user=) -> set[str]``: what the customer may use now.
- ``require_entitlement(user, key)``: raises ``entitlement_required`` (403, naming the plans
  that include ``key``) when the customer lacks it.
- ``upgrade_prompt(user, key)``: None, or what a page says about the plans that include it.

``RequiresEntitlement`` is in ``REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]`` (after
``IsAuthenticated``) and in the permissions of every view that sets its own. It refuses:

- a request authenticated with a customer's **API key** unless the key owner's plan includes
  ``api_access`` (staff keys and browser sessions are not gated; a view that tells a client
  its own status sets ``allowed_without_api_access = True``, which lets such a key read it,
  GET, HEAD and OPTIONS, and never write through it);
- any customer request to a view whose ``required_entitlement`` the plan lacks.

The entitlements of an API key's owner come with the key's cached entry
(``accounts.api_key_cache``): checking them costs no query.
"""

from collections.abc import Callable, Iterable
from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import STAFF_ROLES, ApiKey

API_ACCESS = "api_access"
NAMES = ("entitlements_for", "require_entitlement", "upgrade_prompt")
_ANSWERS: dict[str, Callable[..., Any]] = {}
# Set on a request's user by the API key authentication: the owner's cached entitlements.
_KNOWN = "_plan_entitlements"


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


def remember(user: Any, keys: Iterable[str]) -> None:
    """Attach ``keys`` to this user object as its entitlements (for this request only)."""
    setattr(user, _KNOWN, frozenset(keys))


def known(user: Any) -> frozenset[str] | None:
    """The entitlements attached to this user object, or None when none were."""
    return getattr(user, _KNOWN, None)


def entitlements_of(user: Any) -> frozenset[str]:
    """The entitlements attached to ``user`` (an API key's owner), else billing's answer."""
    cached = known(user)
    if cached is not None:
        return cached
    if not getattr(user, "pk", None):
        return frozenset()
    return frozenset(_answer("entitlements_for")(user=user))


def require(user: Any, key: str) -> None:
    """Raise ``entitlement_required`` (403) unless ``user``'s plan includes ``key``."""
    if key in entitlements_of(user):
        return
    _answer("require_entitlement")(user, key)


def upgrade_prompt(user: Any, key: str) -> dict | None:
    """For a page: None when ``user`` is staff or has ``key``, else billing's upgrade prompt."""
    if getattr(user, "role", None) in STAFF_ROLES or key in entitlements_of(user):
        return None
    prompt: dict | None = _answer("upgrade_prompt")(user, key)
    return prompt


class RequiresEntitlement(BasePermission):
    """See the module docstring. Allows anonymous requests (the view's other permissions
    decide about those)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False) or user.role in STAFF_ROLES:
            return True
        if isinstance(request.auth, ApiKey) and not _reads_own_status(request, view):
            require(user, API_ACCESS)
        needed = getattr(view, "required_entitlement", None)
        if needed:
            require(user, needed)
        return True


def _reads_own_status(request: Any, view: Any) -> bool:
    """The exemption from ``api_access`` lets a client read its own status, never change
    anything."""
    return request.method in SAFE_METHODS and getattr(view, "allowed_without_api_access", False)
