"""Who may do what with money and access: the staff policy, written once as data.

``POLICY`` maps each staff action to the roles allowed to take it and, per role, the
SystemConfig key holding the largest amount that role may act on alone (``None``: no
limit). Amounts are in the action's own unit: minor units of the money's currency for money
actions, credits for credit adjustments, days for trial extensions.

Every service that moves money or access calls :func:`require` with its actor:

- ``actor=None`` is the system itself (webhooks, scheduled tasks, commands): trusted;
- the customer who owns the resource, for the actions a customer may take on their own
  things (``self_service``), e.g. cancelling their own subscription;
- a staff member must have a role listed for the action (else ``NotAuthorized``) and, above
  their role's limit, the action needs a second person (``ApprovalRequired``). Staff pages
  reach those actions through :func:`perform`, which records an approval request instead of
  acting when the amount is above the requester's limit; a second staff member whose own
  limit covers the amount approves it, and the service then runs with them as the actor.

The admin follows the same table: each admin action and custom admin URL names its policy
action (``config.admin`` hides and refuses what the role may not use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rest_framework import status

from accounts.roles import Role
from core.api import DomainError
from core.system_config import get_config

ADMIN, FINANCE, SUPPORT = Role.ADMIN.value, Role.FINANCE.value, Role.SUPPORT.value

ALLOWED = "allowed"
NEEDS_APPROVAL = "approval"


class NotAuthorized(DomainError):
    code = "not_authorized"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Your role does not allow this action."


class UnknownAction(DomainError):
    code = "unknown_action"
    default_message = "This action is not known."


class ApprovalRequired(DomainError):
    code = "approval_required"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = (
        "This amount is above your approval limit: a second staff member must approve it."
    )


@dataclass(frozen=True)
class Rule:
    """One staff action: who may take it, and up to what amount alone (per role)."""

    label: str
    limits: Mapping[str, str | None]
    unit: str = ""  # "money", "credits", "days" or "" (the action has no amount)
    self_service: bool = False  # the owning customer may take it on their own resource

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.limits)


def _rule(label, *, admin=None, finance="-", support="-", unit="", self_service=False):
    """``"-"`` leaves the role out; ``None`` means no limit; a string is a SystemConfig key.
    ADMIN is always allowed (the policy's one all-powerful role)."""
    limits = {ADMIN: admin}
    if finance != "-":
        limits[FINANCE] = finance
    if support != "-":
        limits[SUPPORT] = support
    return Rule(label, limits, unit, self_service)


MONEY_FINANCE = "finance_approval_threshold"
MONEY_SUPPORT = "support_approval_threshold"
CREDITS_FINANCE = "finance_credit_approval_threshold"
CREDITS_SUPPORT = "support_credit_approval_threshold"
TRIAL_SUPPORT = "support_trial_approval_threshold_days"

POLICY: dict[str, Rule] = {
    # Money in: orders and invoices.
    "billing.order.mark_paid": _rule("Mark an order paid", finance=MONEY_FINANCE, unit="money"),
    "billing.order.cancel": _rule("Cancel an unpaid order", finance=None, self_service=True),
    "billing.invoice.mark_paid": _rule("Mark an invoice paid", finance=MONEY_FINANCE, unit="money"),
    "billing.invoice.finalize": _rule("Finalise an invoice", finance=None),
    "billing.invoice.send": _rule("Send an invoice by e-mail", finance=None, support=None),
    "billing.invoice.void": _rule("Void an invoice", finance=None),
    "billing.invoice.issue": _rule("Issue a period's invoice", finance=None),
    # Money out.
    "billing.refund": _rule(
        "Refund a payment", finance=MONEY_FINANCE, support=MONEY_SUPPORT, unit="money"
    ),
    "billing.subscription.comp_period": _rule(
        "Give a subscription's next period free",
        finance=MONEY_FINANCE,
        support=MONEY_SUPPORT,
        unit="money",
    ),
    # Access.
    "billing.subscription.cancel_now": _rule(
        "Cancel a subscription now", finance=None, self_service=True
    ),
    "billing.subscription.cancel_at_end": _rule(
        "Cancel a subscription at its period end", finance=None, support=None, self_service=True
    ),
    "billing.subscription.extend_trial": _rule(
        "Extend a trial", finance=None, support=TRIAL_SUPPORT, unit="days"
    ),
    # Credits.
    "credits.adjust": _rule(
        "Adjust a customer's credits",
        finance=CREDITS_FINANCE,
        support=CREDITS_SUPPORT,
        unit="credits",
    ),
    # A claw-back only ever follows a refund of what granted the credits: whoever may refund
    # may take back what that purchase granted.
    "credits.claw_back": _rule(
        "Take back a purchase's credits", finance=None, support=None, unit="credits"
    ),
    "credits.costs.change": _rule("Change feature costs", finance=None),
    # Stripe and the books.
    "billing.webhook.replay": _rule("Replay a Stripe webhook event", finance=None),
    "billing.stripe.sync": _rule("Push to or pull from Stripe"),
    "billing.discount.change": _rule("Create or change a discount", finance=None),
    "billing.promotion_code.deactivate": _rule("Deactivate a promotion code", finance=None),
    "analytics.view_revenue": _rule("See revenue figures", finance=None),
    "analytics.export_revenue": _rule("Export revenue", finance=None),
    # People and settings.
    "config.change": _rule("Change system settings"),
    "accounts.user.change_role": _rule("Change a user's role"),
    "accounts.user.change_status": _rule("Suspend or reactivate a user"),
    "accounts.user.edit_profile": _rule(
        "Edit a customer's profile", support=None, self_service=True
    ),
    "accounts.user.end_sessions": _rule(
        "Sign a user out, revoke a session or API key", support=None, self_service=True
    ),
    "accounts.email.verify": _rule("Mark an e-mail address verified"),
    "catalog.manage": _rule("Publish, archive or change products"),
    # The support desk.
    "support.ticket.work": _rule("Work tickets: reply, assign, merge", support=None),
    "support.article.draft": _rule(
        "Draft a help article from a question the bot could not answer", support=None
    ),
    "support.approval.decide": _rule("Approve or reject a request", finance=None, support=None),
    # The staff console.
    "console.customer.view": _rule(
        "Open a customer's page (everything about one customer)", finance=None, support=None
    ),
    "console.export": _rule(
        "Export the books (invoices, payments, refunds, the credit ledger) for accounting",
        finance=None,
    ),
    "console.preferences": _rule(
        "Set one's own console preferences (time zone)", finance=None, support=None
    ),
    # Webhooks out to the business's own systems.
    "webhooks.endpoint.manage": _rule(
        "Register, change, test, enable or disable webhook endpoints"
    ),
    "webhooks.delivery.replay": _rule("Resend a webhook delivery"),
    # The machinery.
    "system.schedules": _rule("Enable, disable or run scheduled tasks"),
    "system.ops.view": _rule("See the operations page (queues, workers, backups)"),
}


def rule(action: str) -> Rule:
    try:
        return POLICY[action]
    except KeyError:
        raise UnknownAction(f"{action!r} is not in the staff policy.") from None


def role_of(actor) -> str | None:
    if actor is None or not getattr(actor, "is_active", False):
        return None
    return getattr(actor, "role", None)


def may(actor, action: str) -> bool:
    """Whether ``actor``'s role may take ``action`` at all (at some amount)."""
    return role_of(actor) in rule(action).limits


def limit_for(actor, action: str) -> int | None:
    """The largest amount ``actor`` may act on alone; None = no limit. NotAuthorized when
    the role may not take the action."""
    entry = rule(action)
    role = role_of(actor)
    if role is None or role not in entry.limits:
        raise NotAuthorized(
            f"Your role ({_role_label(role)}) may not: {entry.label.lower()}.", action=action
        )
    key = entry.limits[role]
    return None if key is None else int(get_config(key))


def decide(actor, action: str, amount: int | None = None) -> str:
    """ALLOWED or NEEDS_APPROVAL for a staff ``actor``; raises NotAuthorized."""
    limit = limit_for(actor, action)
    if limit is None or amount is None or amount <= limit:
        return ALLOWED
    return NEEDS_APPROVAL


def require(actor, action: str, *, amount: int | None = None, owner_id=None) -> None:
    """Refuse unless ``actor`` may take ``action`` on ``amount`` alone. ``actor=None`` is the
    system; the owning customer passes for self-service actions (``owner_id``). Raises
    NotAuthorized or ApprovalRequired, before anything is written."""
    if actor is None:
        return
    entry = rule(action)
    if entry.self_service and owner_id is not None and getattr(actor, "pk", None) == owner_id:
        return
    if decide(actor, action, amount) == NEEDS_APPROVAL:
        raise ApprovalRequired(
            f"{entry.label} for {describe_amount(action, amount)} is above your limit of "
            f"{describe_amount(action, limit_for(actor, action))}: request it, and a second "
            "staff member approves it.",
            action=action,
        )


def describe_amount(action: str, amount, currency: str = "") -> str:
    unit = rule(action).unit
    if amount is None:
        return "any amount"
    if unit == "money":
        # Money formatting is shared with the catalog, which imports this module.
        from core.money import format_money  # noqa: PLC0415 - cycle accounts<->catalog

        return format_money(amount, currency) if currency else f"{amount} minor units"
    if unit == "days":
        return f"{amount} day{'s' if amount != 1 else ''}"
    if unit == "credits":
        return f"{amount:,} credits"
    return str(amount)


def _role_label(role) -> str:
    return Role(role).label if role in Role.values else "none"


# --- executors and the approval gateway -----------------------------------------------------
# An action whose amount may need a second person is carried out by an executor that the
# owning app registers; staff pages call ``perform``, which the support desk's approval
# requests implement (``support.approvals``, registered at start-up).


@dataclass(frozen=True)
class Executor:
    fn: Callable
    check: Callable | None = None
    calls_network: bool = False


_EXECUTORS: dict[str, Executor] = {}
_gateway: Callable | None = None


def register_executor(
    action: str, fn: Callable, *, check: Callable | None = None, calls_network: bool = False
) -> None:
    """``fn(payload=, actor=, approval=)`` carries out ``action`` and returns a JSON-able
    result. ``check(payload)`` refuses a bad payload before anything is recorded."""
    rule(action)
    _EXECUTORS[action] = Executor(fn, check, calls_network)


def executor(action: str) -> Executor:
    try:
        return _EXECUTORS[action]
    except KeyError:
        raise UnknownAction(f"No executor is registered for {action!r}.") from None


def executors() -> dict[str, Executor]:
    return dict(_EXECUTORS)


def set_approval_gateway(fn: Callable) -> None:
    global _gateway
    _gateway = fn


def perform(
    *,
    action: str,
    payload: dict[str, Any],
    amount: int,
    actor,
    ticket=None,
    currency: str = "",
    reason: str = "",
):
    """Carry out ``action`` now if ``amount`` is within ``actor``'s limit, otherwise record a
    request for a second staff member. Returns the approval request (its ``status`` says
    which happened). Raises NotAuthorized and whatever the executor raises."""
    if _gateway is None:
        raise RuntimeError("No approval gateway is registered (support app not loaded).")
    return _gateway(
        action_key=action,
        payload=payload,
        amount=amount,
        requested_by=actor,
        ticket=ticket,
        currency=currency,
        reason=reason,
    )
