"""Django's model permissions for the staff roles, kept consistent with the staff policy.

ADMIN may do everything. FINANCE and SUPPORT see the apps of their work (the admin's menus
show only those) and edit only the models their work needs; everything that moves money or
access is an action of the staff policy (``accounts.authority``), which the admin and every
service check. CUSTOMER has no model permissions.
"""

from accounts.authority import may
from accounts.roles import Role

# Apps each role sees in the staff console (view permission on their models).
VISIBLE_APPS: dict[str, set[str]] = {
    # "djstripe": the read-only Stripe mirror finance reconciles against.
    # "core": the audit log and the run-time settings.
    Role.FINANCE: {
        "accounts",
        "core",
        "billing",
        "credits",
        "catalog",
        "support",
        "analytics",
        "outbox",
        "console",
        "coupons",
        "djstripe",
    },
    Role.SUPPORT: {
        "accounts",
        "core",
        "billing",
        "credits",
        "catalog",
        "support",
        "console",
        "helpbot_insights",
    },
}
# Models a role may not even see inside a visible app.
HIDDEN_MODELS: dict[str, set[str]] = {
    Role.FINANCE: set(),
    Role.SUPPORT: {
        "core.systemconfig",
        "billing.webhookevent",
        "billing.stripedrift",
        "billing.plansubscribers",
        "outbox.outboxmessage",
        "console.accountingexport",
    },
}
# Models a role may add or change through the admin's own forms ("add_"/"change_").
EDITABLE_MODELS: dict[str, set[str]] = {
    Role.FINANCE: {
        "billing.discount",
        "billing.promotioncode",
        "billing.order",
        "billing.subscription",
        "credits.featurecost",
        "coupons.couponduration",
    },
    Role.SUPPORT: {"support.*", "accounts.user"},
}
# Revenue lives in the analytics app: visible to the roles the policy lets see revenue.
REVENUE_APPS = {"analytics"}


class _Actor:
    """A stand-in with just a role, to ask the policy about a role rather than a user."""

    is_active = True

    def __init__(self, role):
        self.role = role


def role_sees_app(role: str | None, app_label: str) -> bool:
    """``role`` None (a user without a role) sees no app."""
    if role is None:
        return False
    if role == Role.ADMIN:
        return True
    if app_label in REVENUE_APPS and not may(_Actor(role), "analytics.view_revenue"):
        return False
    return app_label in VISIBLE_APPS.get(role, set())


def role_has_perm(role: str | None, perm: str) -> bool:
    if role is None:
        return False  # sees no app
    if role == Role.ADMIN:
        return True
    app_label, _, codename = perm.partition(".")
    action, _, model = codename.partition("_")
    label = f"{app_label}.{model}"
    if not role_sees_app(role, app_label) or label in HIDDEN_MODELS.get(role, set()):
        return False
    if action == "view":
        return True
    if action in ("add", "change"):
        editable = EDITABLE_MODELS.get(role, set())
        return label in editable or f"{app_label}.*" in editable
    return False
