"""Staff actions that may need a second pair of eyes.

An app registers an executor for an action key::

    approvals.register("credits.adjust", fn, threshold_key="support_credit_approval_threshold")

``request_action`` records an ApprovalRequest. At or below the threshold (a SystemConfig key)
the action runs at once; above it the request waits until ANOTHER staff member approves it
(the requester cannot approve their own; a database constraint backs the rule). Executors take
``(payload, actor, approval)``, run inside the approval's transaction, return a JSON-able
result, and must not call the network (the approval row is locked while they run).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditAction
from accounts.system_config import get_config
from support.errors import ApprovalRefused, SelfApprovalRefused, UnknownAction
from support.models import ApprovalRequest, ApprovalStatus
from support.services import require_staff


@dataclass(frozen=True)
class Executor:
    fn: Callable
    threshold_key: str
    label: str


_EXECUTORS: dict[str, Executor] = {}


def register(action_key: str, fn: Callable, *,
             threshold_key: str = "support_approval_threshold", label: str = "") -> None:
    _EXECUTORS[action_key] = Executor(fn, threshold_key, label or action_key)


def executors() -> dict[str, Executor]:
    return dict(_EXECUTORS)


def _executor(action_key: str) -> Executor:
    try:
        return _EXECUTORS[action_key]
    except KeyError:
        raise UnknownAction(f"No executor is registered for {action_key!r}.") from None


def _execute(approval: ApprovalRequest, actor) -> None:
    result = _executor(approval.action_key).fn(payload=approval.payload, actor=actor,
                                               approval=approval)
    approval.status = ApprovalStatus.EXECUTED
    approval.executed_at = timezone.now()
    approval.result = result or {}
    approval.save(update_fields=["status", "executed_at", "result", "updated_at"])
    audit.record(actor=actor, action=AuditAction.APPROVAL, resource=approval,
                 new={"status": approval.status, "result": approval.result},
                 action_key=approval.action_key, ticket_id=approval.ticket_id)


def request_action(*, action_key: str, payload: dict, amount: int, requested_by,
                   ticket=None, currency: str = "", reason: str = "") -> ApprovalRequest:
    """Record a staff action; run it now when ``amount`` is within its threshold, otherwise
    leave it PENDING for a second staff member. Raises StaffOnly, UnknownAction,
    ApprovalRefused (bad amount) and whatever the executor raises (nothing is kept then)."""
    require_staff(requested_by)
    executor = _executor(action_key)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ApprovalRefused("The amount must be a whole number of at least 0.",
                              code="invalid_amount")
    with transaction.atomic():
        approval = ApprovalRequest.objects.create(
            action_key=action_key, payload=payload, amount=amount, currency=currency,
            reason=reason, requested_by=requested_by, ticket=ticket,
        )
        audit.record(actor=requested_by, action=AuditAction.APPROVAL, resource=approval,
                     new={"status": approval.status, "amount": amount, "payload": payload},
                     action_key=action_key, ticket_id=getattr(ticket, "pk", None))
        if amount <= get_config(executor.threshold_key):
            _execute(approval, requested_by)
    return approval


def approve(*, approval: ApprovalRequest, approver) -> ApprovalRequest:
    """A second staff member approves and the action runs. The requester cannot approve
    their own request (SelfApprovalRefused); only PENDING requests can be decided. Locks the
    approval row; safe against two approvers at once (the second sees it decided)."""
    require_staff(approver)
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if approval.status != ApprovalStatus.PENDING:
            raise ApprovalRefused(f"This request is already {approval.get_status_display()}.",
                                  code="approval_not_pending")
        if approval.requested_by_id == approver.pk:
            raise SelfApprovalRefused()
        approval.status = ApprovalStatus.APPROVED
        approval.approved_by = approver
        approval.decided_at = timezone.now()
        approval.save(update_fields=["status", "approved_by", "decided_at", "updated_at"])
        _execute(approval, approver)
    return approval


def reject(*, approval: ApprovalRequest, approver, reason: str = "") -> ApprovalRequest:
    """Turn a PENDING request down (the requester may withdraw their own). Locks the row."""
    require_staff(approver)
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if approval.status != ApprovalStatus.PENDING:
            raise ApprovalRefused(f"This request is already {approval.get_status_display()}.",
                                  code="approval_not_pending")
        approval.status = ApprovalStatus.REJECTED
        approval.decided_at = timezone.now()
        approval.result = {"rejected_by": approver.pk, "reason": reason}
        approval.save(update_fields=["status", "decided_at", "result", "updated_at"])
        audit.record(actor=approver, action=AuditAction.APPROVAL, resource=approval,
                     new={"status": approval.status}, reason=reason,
                     ticket_id=approval.ticket_id)
    return approval


# --- executors this app provides ---------------------------------------------------------


def _credit_user(payload):
    from accounts.models import User

    return User.objects.get(pk=payload["user_id"])


def adjust_credits_executor(*, payload, actor, approval) -> dict:
    """Staff credit correction from a ticket: positive grants, negative removes. The approval
    id is the idempotency key, so a retried execution never adjusts twice."""
    from credits.services import adjust_credits

    row = adjust_credits(
        user=_credit_user(payload), amount=int(payload["amount"]),
        reason=payload.get("reason") or f"Support approval {approval.pk}", actor=actor,
        idempotency_key=f"support-approval-{approval.pk}",
    )
    return {"credit_transaction_id": row.pk, "balance_after": row.balance_after}


def credits_amount(payload) -> int:
    """The size of a credits action for the threshold: a removal counts like a grant."""
    return abs(int(payload["amount"]))


register("credits.adjust", adjust_credits_executor,
         threshold_key="support_credit_approval_threshold", label="Adjust credits")


def refund_order_executor(*, payload, actor, approval) -> dict:
    """Refund part or all of the ticket customer's order through billing's own service
    (which reserves the amount under the order lock and calls Stripe only after commit).
    The order must belong to ``payload["user_id"]``: a payload naming someone else's order
    is refused."""
    from billing.models import Order
    from billing.services.refunds import create_refund

    order_id = int(payload["order_id"])
    if not Order.objects.filter(pk=order_id, user_id=payload["user_id"]).exists():
        raise ApprovalRefused("That order does not belong to this customer.",
                              code="order_not_customers")
    refund = create_refund(order_id=order_id, amount=int(payload["amount"]),
                           reason=payload["reason"], actor=actor,
                           notes=payload.get("notes") or f"Support approval {approval.pk}")
    return {"refund_id": refund.pk, "refund_status": refund.status}


register("billing.refund", refund_order_executor, label="Refund an order")

