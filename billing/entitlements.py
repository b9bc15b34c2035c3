"""Entitlements: what a customer's plan includes (``Plan.entitlements``: ``api_access``,
``priority_support``, ``sso``, feature names) and the one check the product uses: metered
operations that need one (``FeatureCost.required_entitlement``) are refused before any charge
(the API answers 403 ``entitlement_required`` naming the plans that include it) and pages
show an upgrade prompt (``upgrade_prompt``)."""

from __future__ import annotations

from billing import selectors
from catalog.models import Plan
from catalog.templatetags.catalog_tags import key_label
from core.api import DomainError


class EntitlementRequired(DomainError):
    code = "entitlement_required"
    status_code = 403
    default_message = "Your plan does not include this."


def has_entitlement(user, key: str) -> bool:
    """Whether ``user``'s live plan (active, trialing, or past due within the grace period)
    includes ``key``."""
    return bool(key) and key in selectors.entitlements_for(user=user)


def plans_including(key: str) -> list:
    """The active plans on sale whose entitlements include ``key``, cheapest first."""
    return [
        plan
        for plan in Plan.objects.filter(active=True).order_by("sort_order", "id")
        if key in (plan.entitlements or [])
    ]


def label(key: str) -> str:
    return key_label(key)


def require_entitlement(user, key: str) -> None:
    """Raise EntitlementRequired (403 ``entitlement_required``) naming the plans that include
    ``key`` unless ``user`` has it."""
    if has_entitlement(user, key):
        return
    plans = plans_including(key)
    names = ", ".join(plan.name for plan in plans)
    message = f"Your plan does not include {label(key)}. " + (
        f"It is included in {names}: change plan at /pricing/."
        if plans
        else "No plan on sale includes it."
    )
    raise EntitlementRequired(message, entitlement=key, plans=[plan.slug for plan in plans])


def upgrade_prompt(
    user, key: str, *, owned: set[str] | None = None, plans: list | None = None
) -> dict | None:
    """For a page: None when ``user`` has ``key``, else what to say and where to go.
    ``owned`` (the user's entitlements) and ``plans`` (the active plans) may be passed in by
    a page that asks about several keys, so it reads them once."""
    owned = selectors.entitlements_for(user=user) if owned is None else owned
    if key in owned:
        return None
    if plans is None:
        including = plans_including(key)
    else:
        including = [plan for plan in plans if key in (plan.entitlements or [])]
    return {"entitlement": key, "label": label(key), "plans": including, "url": "/pricing/"}
