"""Entitlements: what a customer's plan includes (``Plan.entitlements``: ``api_access``,
``priority_support``, ``sso``, feature names) and the one check the product uses: metered
operations that need one (``FeatureCost.required_entitlement``) are refused before any charge
(the API answers 403 ``entitlement_required`` naming the plans that include it) and pages
show an upgrade prompt (``upgrade_prompt``).

The API asks the same through ``accounts.entitlements`` (registered below): an API key needs
``api_access``, and a view may name a ``required_entitlement``. An API key owner's
entitlements ride in the key's cached entry, dropped here whenever one of their subscriptions
is saved or a plan they subscribe to changes."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from accounts import api_key_cache
from accounts import entitlements as api_entitlements
from billing import selectors
from billing.models import Subscription
from catalog.models import Plan, download_entitlement
from catalog.templatetags.catalog_tags import key_label
from core.api import DomainError


class EntitlementRequired(DomainError):
    code = "entitlement_required"
    status_code = 403
    default_message = "Your plan does not include this."


def has_entitlement(user, key: str) -> bool:
    """Whether ``user``'s live plan (active, trialing, or past due within the grace period)
    includes ``key``."""
    return bool(key) and key in owned_by(user)


def owned_by(user) -> frozenset[str] | set[str]:
    """``user``'s entitlements: those the API key authentication attached to this request's
    user (from the key's cached entry), else read now."""
    known = api_entitlements.known(user)
    return known if known is not None else selectors.entitlements_for(user=user)


def current_entitlements(*, user) -> set[str]:
    """``owned_by`` for the credits registry (its ``entitlements_for``)."""
    return set(owned_by(user))


def download_included(*, user, product) -> bool:
    """Whether ``user``'s live plan includes downloads of ``product``."""
    return has_entitlement(user, download_entitlement(product.pk))


def plans_including(key: str) -> list:
    """The active plans on sale whose entitlements include ``key``, cheapest first."""
    return [
        plan
        for plan in Plan.objects.filter(active=True).order_by("sort_order", "id")
        if key in (plan.entitlements or [])
    ]


def label(key: str) -> str:
    return key_label(key)


def require_entitlement(user, key: str, **extra) -> None:
    """Raise EntitlementRequired (403 ``entitlement_required``) naming the plans that include
    ``key`` unless ``user`` has it; ``extra`` goes into the refusal (e.g. ``field=`` for a
    page's form)."""
    if has_entitlement(user, key):
        return
    plans = plans_including(key)
    names = ", ".join(plan.name for plan in plans)
    message = f"Your plan does not include {label(key)}. " + (
        f"It is included in {names}: change plan at /pricing/."
        if plans
        else "No plan on sale includes it."
    )
    raise EntitlementRequired(
        message, entitlement=key, plans=[plan.slug for plan in plans], **extra
    )


def upgrade_prompt(
    user, key: str, *, owned: set[str] | None = None, plans: list | None = None
) -> dict | None:
    """For a page: None when ``user`` has ``key``, else what to say and where to go.
    ``owned`` (the user's entitlements) and ``plans`` (the active plans) may be passed in by
    a page that asks about several keys, so it reads them once."""
    have = owned_by(user) if owned is None else owned
    if key in have:
        return None
    if plans is None:
        including = plans_including(key)
    else:
        including = [plan for plan in plans if key in (plan.entitlements or [])]
    return {"entitlement": key, "label": label(key), "plans": including, "url": "/pricing/"}


# --- the API key cache: who to forget when entitlements change ---------------------------------


def _forget_subscriber(sender, instance: Subscription, **kwargs) -> None:
    api_key_cache.forget_user(instance.user_id)


def _forget_plan_subscribers(sender, instance: Plan, created: bool = False, **kwargs) -> None:
    if not created:
        _forget_subscribers_of([instance.pk])


def _forget_download_subscribers(sender, instance, action: str, pk_set, **kwargs) -> None:
    """Plan.included_downloads changed, from the plan's side or from a product's."""
    if action in ("post_add", "post_remove", "post_clear", "pre_clear"):
        if isinstance(instance, Plan):
            _forget_subscribers_of([instance.pk])
        elif action == "pre_clear":
            _forget_subscribers_of(list(instance.including_plans.values_list("pk", flat=True)))
        elif pk_set:
            _forget_subscribers_of(list(pk_set))


def _forget_subscribers_of(plan_ids: list[int]) -> None:
    subscribers = Subscription.objects.filter(plan_id__in=plan_ids).values("user_id")
    api_key_cache.forget_users(subscribers)


def connect() -> None:
    """Register the answers accounts' API permission asks for, and drop cached API key
    entries when what they say about entitlements may have changed."""
    api_entitlements.register(
        entitlements_for=selectors.entitlements_for,
        require_entitlement=require_entitlement,
        upgrade_prompt=upgrade_prompt,
    )
    uid = "billing.entitlements."
    post_save.connect(_forget_subscriber, sender=Subscription, dispatch_uid=uid + "sub_saved")
    post_delete.connect(_forget_subscriber, sender=Subscription, dispatch_uid=uid + "sub_gone")
    post_save.connect(_forget_plan_subscribers, sender=Plan, dispatch_uid=uid + "plan_saved")
    m2m_changed.connect(
        _forget_download_subscribers,
        sender=Plan.included_downloads.through,
        dispatch_uid=uid + "plan_downloads",
    )
