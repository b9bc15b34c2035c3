"""Staff actions that may need a second pair of eyes: the staff policy's approval requests.

The app that owns an action registers its executor with ``accounts.authority`` (by the
policy's action key); staff pages call ``authority.perform``, which lands in
``request_action`` here. ``request_action`` records an ApprovalRequest. Within the
requester's limit for that action (``accounts.authority.POLICY``) the action runs at once;
above it the request waits until ANOTHER staff member whose own limit covers the amount
approves it (the requester cannot approve their own; a database constraint backs the rule).
Executors take
``(payload, actor, approval)`` and return a JSON-able result. By default they run inside the
approval's transaction and must not call the network (the approval row is locked while they
run). An executor registered with ``calls_network=True`` (it calls Stripe synchronously) runs
after the decision has committed instead: the request is first claimed (APPROVED, so no one
else can run it), then executed outside any lock, then marked EXECUTED; if it fails it goes
back to PENDING, with the failure in the audit log, for a second staff member to retry or
reject. An optional ``check(payload)`` refuses a bad payload before anything is recorded.
"""

from django.db import transaction
from django.utils import timezone

from accounts import authority
from core import audit
from core.models import AuditAction
from support.errors import ApprovalRefused, SelfApprovalRefused
from support.models import ApprovalRequest, ApprovalStatus


def _executor(action_key: str) -> authority.Executor:
    return authority.executor(action_key)


def _execute(approval: ApprovalRequest, actor) -> None:
    result = _executor(approval.action_key).fn(
        payload=approval.payload, actor=actor, approval=approval
    )
    _mark_executed(approval, actor, result)


def _mark_executed(approval: ApprovalRequest, actor, result) -> None:
    # The audit context names the action "approval_action": the audit log redacts any name
    # containing "key", so "action_key" was stored as "[redacted]".
    approval.status = ApprovalStatus.EXECUTED
    approval.executed_at = timezone.now()
    approval.result = result or {}
    approval.save(update_fields=["status", "executed_at", "result", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.APPROVAL,
        resource=approval,
        new={"status": approval.status, "result": approval.result},
        approval_action=approval.action_key,
        ticket_id=approval.ticket_id,
    )


def _execute_after_commit(approval: ApprovalRequest, actor) -> None:
    """Run a ``calls_network`` executor for an approval already claimed (status APPROVED and
    committed, so no second approver can run it too), holding no lock. On failure the request
    returns to PENDING and the failure is audited; the error is raised again."""
    try:
        result = _executor(approval.action_key).fn(
            payload=approval.payload, actor=actor, approval=approval
        )
    except Exception as exc:
        with transaction.atomic():
            ApprovalRequest.objects.filter(pk=approval.pk).update(
                status=ApprovalStatus.PENDING,
                approved_by=None,
                decided_at=None,
                updated_at=timezone.now(),
            )
            audit.record(
                actor=actor,
                action=AuditAction.APPROVAL,
                resource=approval,
                new={"status": ApprovalStatus.PENDING},
                failed=getattr(exc, "code", type(exc).__name__),
                message=getattr(exc, "message", str(exc)),
                approval_action=approval.action_key,
                ticket_id=approval.ticket_id,
            )
        approval.refresh_from_db()
        exc.add_note(
            f"Request #{approval.pk} is kept pending: another staff member can "
            "approve it to try again, or reject it."
        )
        raise
    with transaction.atomic():
        _mark_executed(approval, actor, result)


def request_action(
    *,
    action_key: str,
    payload: dict,
    amount: int,
    requested_by,
    ticket=None,
    currency: str = "",
    reason: str = "",
) -> ApprovalRequest:
    """Record a staff action; run it now when ``amount`` is within its threshold, otherwise
    leave it PENDING for a second staff member. Raises StaffOnly, UnknownAction,
    ApprovalRefused (bad amount), whatever the executor's ``check`` raises (nothing is
    recorded then) and whatever the executor raises (nothing is kept then, except for a
    ``calls_network`` executor: its request stays PENDING, see ``_execute_after_commit``)."""
    authority.rule(action_key)
    executor = _executor(action_key)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ApprovalRefused(
            "The amount must be a whole number of at least 0.", code="invalid_amount"
        )
    if executor.check is not None:
        executor.check(payload)
    # NotAuthorized when the requester's role may not take the action at all.
    decision = authority.decide(requested_by, action_key, amount)
    with transaction.atomic():
        runs_now = decision == authority.ALLOWED
        # A network executor's request is committed already claimed, so that no second
        # staff member can approve (and run) it while it runs outside the transaction.
        claimed = runs_now and executor.calls_network
        approval = ApprovalRequest.objects.create(
            action_key=action_key,
            payload=payload,
            amount=amount,
            currency=currency,
            reason=reason,
            requested_by=requested_by,
            ticket=ticket,
            status=ApprovalStatus.APPROVED if claimed else ApprovalStatus.PENDING,
            decided_at=timezone.now() if claimed else None,
        )
        audit.record(
            actor=requested_by,
            action=AuditAction.APPROVAL,
            resource=approval,
            new={"status": approval.status, "amount": amount, "payload": payload},
            approval_action=action_key,
            ticket_id=getattr(ticket, "pk", None),
        )
        if runs_now and not claimed:
            _execute(approval, requested_by)
    if claimed:
        _execute_after_commit(approval, requested_by)
    return approval


def approve(*, approval: ApprovalRequest, approver) -> ApprovalRequest:
    """A second staff member approves and the action runs. The requester cannot approve
    their own request (SelfApprovalRefused); only PENDING requests can be decided. Locks the
    approval row; safe against two approvers at once (the second sees it decided). A
    ``calls_network`` executor runs after the decision commits (see ``_execute_after_commit``).
    The approver's role must allow the action and their own limit cover its amount
    (NotAuthorized, ApprovalRefused with code ``approval_limit``).
    """
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if approval.status != ApprovalStatus.PENDING:
            raise ApprovalRefused(
                f"This request is already {approval.get_status_display()}.",
                code="approval_not_pending",
            )
        if approval.requested_by_id == approver.pk:
            raise SelfApprovalRefused()
        if authority.decide(approver, approval.action_key, approval.amount) != authority.ALLOWED:
            shown = authority.describe_amount(
                approval.action_key, approval.amount, approval.currency
            )
            raise ApprovalRefused(
                f"This amount is above your own limit too: someone whose "
                f"limit covers {shown} must approve it.",
                code="approval_limit",
            )
        approval.status = ApprovalStatus.APPROVED
        approval.approved_by = approver
        approval.decided_at = timezone.now()
        approval.save(update_fields=["status", "approved_by", "decided_at", "updated_at"])
        executor = _executor(approval.action_key)
        if executor.calls_network:
            audit.record(
                actor=approver,
                action=AuditAction.APPROVAL,
                resource=approval,
                new={"status": approval.status},
                approval_action=approval.action_key,
                ticket_id=approval.ticket_id,
            )
        else:
            _execute(approval, approver)
    if executor.calls_network:
        _execute_after_commit(approval, approver)
    return approval


def reject(*, approval: ApprovalRequest, approver, reason: str = "") -> ApprovalRequest:
    """Turn a PENDING request down (the requester may withdraw their own; anyone else needs a
    role the action allows: NotAuthorized). Locks the row."""
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if approval.requested_by_id != getattr(approver, "pk", None):
            authority.limit_for(approver, approval.action_key)
        if approval.status != ApprovalStatus.PENDING:
            raise ApprovalRefused(
                f"This request is already {approval.get_status_display()}.",
                code="approval_not_pending",
            )
        approval.status = ApprovalStatus.REJECTED
        approval.decided_at = timezone.now()
        approval.result = {"rejected_by": approver.pk, "reason": reason}
        approval.save(update_fields=["status", "decided_at", "result", "updated_at"])
        audit.record(
            actor=approver,
            action=AuditAction.APPROVAL,
            resource=approval,
            new={"status": approval.status},
            reason=reason,
            ticket_id=approval.ticket_id,
        )
    return approval


def credits_amount(payload) -> int:
    """The size of a credits action for the threshold: a removal counts like a grant
    (credits registers the ``credits.adjust`` executor itself: credits/executors.py)."""
    return abs(int(payload["amount"]))


# Trial extensions are sized in days (support_trial_approval_threshold_days, config_keys);
# billing registers their executor and check, like refunds: billing/executors.py.


# Staff pages reach every action that may need a second person through ``authority.perform``.
authority.set_approval_gateway(request_action)
