"""Writes on tickets. Every function locks the ticket row it changes, runs in one
transaction, audits the change in it, and queues e-mails only after the commit.

Who may do what: customers open, reply to, and close their own tickets; staff (SUPPORT or
ADMIN) do everything else. A customer touching another customer's ticket gets ``NotFound``
(the API answers 404), never a hint that the ticket exists.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts import authority
from accounts.models import STAFF_ROLES, User
from billing import entitlements
from core import audit, outbox
from core.api import NotFound
from core.models import AuditAction
from core.system_config import get_config
from support import attachments as attachment_files
from support.errors import (
    InvalidAssignee,
    InvalidTransition,
    MergeRefused,
    ReopenWindowPassed,
    StaffOnly,
    TicketClosed,
    UrgentNotAllowed,
)
from support.models import (
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
    can_transition,
)

CUSTOMER_PRIORITIES = (TicketPriority.LOW, TicketPriority.MEDIUM, TicketPriority.HIGH)
# The highest priority a customer may choose comes with a plan including priority support.
PRIORITY_SUPPORT = "priority_support"
PRIORITY_SUPPORT_LEVEL = TicketPriority.HIGH


def is_staff(user: User | None) -> bool:
    return user is not None and getattr(user, "role", None) in STAFF_ROLES and user.is_active


def require_staff(user: User | None) -> None:
    """Staff work on tickets: a staff role the policy lets work tickets (StaffOnly for
    customers, NotAuthorized for other staff roles, e.g. FINANCE)."""
    if not is_staff(user):
        raise StaffOnly()
    authority.require(user, "support.ticket.work")


def sla_deadlines(priority: str, start: datetime) -> tuple:
    """(first response due, resolution due) for a ticket of ``priority`` opened at ``start``."""
    key = priority.lower()
    first = get_config(f"support_sla_first_response_hours_{key}")
    resolve = get_config(f"support_sla_resolution_hours_{key}")
    return start + timedelta(hours=first), start + timedelta(hours=resolve)


def _lock(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _visible_to(ticket: Ticket, user: User) -> bool:
    return is_staff(user) or ticket.customer_id == getattr(user, "pk", None)


# --- opening and the thread --------------------------------------------------------------


def open_ticket(
    *,
    customer: User,
    subject: str,
    description: str,
    priority: str = TicketPriority.MEDIUM,
    actor: User | None = None,
    files: Iterable[UploadedFile] = (),
    metadata: dict | None = None,
    related: dict | None = None,
) -> Ticket:
    """Open a ticket for ``customer``; ``description`` becomes the first message of the thread.

    ``actor`` defaults to the customer; staff may open on a customer's behalf and only staff
    may choose URGENT (``UrgentNotAllowed`` otherwise); a customer chooses HIGH only when
    their plan includes ``priority_support`` (``entitlement_required``, 403, otherwise).
    ``files`` are validated before any write (``AttachmentRefused``). ``related`` holds
    optional related-object fields already checked by ``support.related.clean_related``.
    Not idempotent: each call opens a ticket.
    """
    actor = actor or customer
    if priority not in TicketPriority.values:
        raise InvalidTransition("Unknown priority.", code="invalid_priority")
    if priority == TicketPriority.URGENT and not is_staff(actor):
        raise UrgentNotAllowed()
    if priority == PRIORITY_SUPPORT_LEVEL and not is_staff(actor):
        entitlements.require_entitlement(customer, PRIORITY_SUPPORT, field="priority")
    files = list(files or [])
    attachment_files.validate(files)
    with transaction.atomic():
        ticket = Ticket.objects.create(
            customer=customer,
            subject=subject.strip(),
            description=description.strip(),
            priority=priority,
            metadata=metadata or {},
            **(related or {}),
        )
        ticket.number = f"T{ticket.pk:06d}"
        # Deadlines count from created_at, exactly as change_priority recomputes them.
        ticket.first_response_due_at, ticket.resolution_due_at = sla_deadlines(
            priority, ticket.created_at
        )
        ticket.save(update_fields=["number", "first_response_due_at", "resolution_due_at"])
        message = TicketMessage.objects.create(ticket=ticket, author=actor, body=ticket.description)
        if files:
            message.attachments.set(attachment_files.store(owner=customer, files=files))
        audit.record(
            actor=actor,
            action=AuditAction.CREATE,
            resource=ticket,
            new={"subject": ticket.subject, "priority": priority, "status": ticket.status},
        )
    return ticket


def reply(
    *, ticket: Ticket, author: User, body: str, files: Iterable[UploadedFile] = ()
) -> TicketMessage:
    """Add a public message to the thread, by the ticket's customer or by staff.

    Staff: the first staff reply sets ``first_response_at`` (once); the customer is e-mailed.
    Customer: a reply to WAITING_ON_CUSTOMER moves the ticket back to IN_PROGRESS; a reply to
    RESOLVED reopens it (OPEN) within the reopen window, else ``ReopenWindowPassed``; the
    assignee is e-mailed. CLOSED tickets refuse replies (``TicketClosed``). Locks the ticket.
    """
    if not _visible_to(ticket, author):
        raise NotFound()
    files = list(files or [])
    attachment_files.validate(files)
    staff = is_staff(author)
    if staff:
        authority.require(author, "support.ticket.work")
    with transaction.atomic():
        ticket = _lock(ticket)
        if ticket.status == TicketStatus.CLOSED:
            raise TicketClosed()
        now = timezone.now()
        if not staff:
            if ticket.status == TicketStatus.RESOLVED:
                window = timedelta(days=get_config("support_reopen_window_days"))
                if ticket.resolved_at and now - ticket.resolved_at > window:
                    raise ReopenWindowPassed()
                _transition(ticket, TicketStatus.OPEN, actor=author, reason="customer reply")
            elif ticket.status == TicketStatus.WAITING_ON_CUSTOMER:
                _transition(ticket, TicketStatus.IN_PROGRESS, actor=author, reason="customer reply")
        message = TicketMessage.objects.create(ticket=ticket, author=author, body=body.strip())
        if files:
            message.attachments.set(attachment_files.store(owner=ticket.customer, files=files))
        if staff and ticket.first_response_at is None:
            ticket.first_response_at = message.created_at
            ticket.save(update_fields=["first_response_at", "updated_at"])
        else:
            ticket.save(update_fields=["updated_at"])
        audit.record(
            actor=author,
            action=AuditAction.CREATE,
            resource=message,
            ticket_id=ticket.pk,
            internal=False,
        )
        if staff:
            outbox.enqueue("support.tasks.notify_customer_of_reply", message.pk)
        elif ticket.assignee_id:
            outbox.enqueue("support.tasks.notify_assignee_of_reply", message.pk)
    return message


def add_internal_note(*, ticket: Ticket, author: User, body: str) -> TicketMessage:
    """A staff-only note on the thread. No e-mail, no status change, no first response."""
    require_staff(author)
    with transaction.atomic():
        ticket = _lock(ticket)
        message = TicketMessage.objects.create(
            ticket=ticket, author=author, body=body.strip(), internal=True
        )
        audit.record(
            actor=author,
            action=AuditAction.CREATE,
            resource=message,
            ticket_id=ticket.pk,
            internal=True,
        )
    return message


# --- status, assignment, priority ---------------------------------------------------------


def _transition(ticket: Ticket, target: str, *, actor: User | None, reason: str = "") -> None:
    """Apply one step of the status machine to a locked ticket (caller is in a transaction)."""
    current = ticket.status
    if not can_transition(current, target):
        raise InvalidTransition(
            f"A ticket cannot go from {TicketStatus(current).label} to "
            f"{TicketStatus(target).label}.",
            current=current,
            target=target,
        )
    now = timezone.now()
    ticket.status = target
    if target == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif target == TicketStatus.CLOSED:
        ticket.closed_at = now
    elif current == TicketStatus.RESOLVED:
        ticket.resolved_at = None  # reopened: resolution time is measured again
    ticket.save(update_fields=["status", "resolved_at", "closed_at", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.STATUS_CHANGE,
        resource=ticket,
        old={"status": current},
        new={"status": target},
        reason=reason,
    )
    if getattr(actor, "pk", None) != ticket.customer_id:
        # The customer is told about changes others make, not about their own close/reopen.
        outbox.enqueue("support.tasks.notify_customer_of_status", ticket.pk, target)


def change_status(*, ticket: Ticket, status: str, actor: User) -> Ticket:
    """Staff move a ticket along the status machine (``InvalidTransition`` otherwise).
    The customer is e-mailed after the commit. Locks the ticket."""
    require_staff(actor)
    if status not in TicketStatus.values:
        raise InvalidTransition("Unknown status.")
    with transaction.atomic():
        ticket = _lock(ticket)
        _transition(ticket, status, actor=actor)
    return ticket


def close(*, ticket: Ticket, actor: User) -> Ticket:
    """Close a ticket: its customer may close their own, staff any. Locks the ticket."""
    if not _visible_to(ticket, actor):
        raise NotFound()
    with transaction.atomic():
        ticket = _lock(ticket)
        if ticket.status == TicketStatus.CLOSED:
            raise InvalidTransition("This ticket is already closed.")
        _transition(ticket, TicketStatus.CLOSED, actor=actor, reason="closed")
    return ticket


def assign(*, ticket: Ticket, assignee: User | None, actor: User) -> Ticket:
    """Assign to a SUPPORT or ADMIN user (``InvalidAssignee`` otherwise), or unassign with
    ``assignee=None``. Staff only. Locks the ticket."""
    require_staff(actor)
    if assignee is not None and not is_staff(assignee):
        raise InvalidAssignee()
    with transaction.atomic():
        ticket = _lock(ticket)
        old = ticket.assignee_id
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditAction.UPDATE,
            resource=ticket,
            old={"assignee_id": old},
            new={"assignee_id": getattr(assignee, "pk", None)},
        )
    return ticket


def change_priority(*, ticket: Ticket, priority: str, actor: User) -> Ticket:
    """Staff change the priority; SLA deadlines are recomputed from when the ticket opened."""
    require_staff(actor)
    if priority not in TicketPriority.values:
        raise InvalidTransition("Unknown priority.", code="invalid_priority")
    with transaction.atomic():
        ticket = _lock(ticket)
        old = ticket.priority
        ticket.priority = priority
        ticket.first_response_due_at, ticket.resolution_due_at = sla_deadlines(
            priority, ticket.created_at
        )
        ticket.save(
            update_fields=["priority", "first_response_due_at", "resolution_due_at", "updated_at"]
        )
        audit.record(
            actor=actor,
            action=AuditAction.UPDATE,
            resource=ticket,
            old={"priority": old},
            new={"priority": priority},
        )
    return ticket


def merge(*, source: Ticket, target: Ticket, actor: User) -> Ticket:
    """Merge the duplicate ``source`` into ``target`` (same customer, neither closed).

    The source's messages move to the target (keeping their times, so the thread reads in
    order); the source is closed with ``merged_into`` set and a note telling the customer
    where the conversation continues. Locks both tickets in primary-key order.
    """
    require_staff(actor)
    if source.pk == target.pk:
        raise MergeRefused("A ticket cannot be merged into itself.")
    with transaction.atomic():
        locked = {
            t.pk: t
            for t in Ticket.objects.select_for_update()
            .filter(pk__in=[source.pk, target.pk])
            .order_by("pk")
        }
        source, target = locked[source.pk], locked[target.pk]
        if source.customer_id != target.customer_id:
            raise MergeRefused("Only tickets of the same customer can be merged.")
        if TicketStatus.CLOSED in (source.status, target.status):
            raise MergeRefused("Closed tickets cannot be merged.")
        moved = TicketMessage.objects.filter(ticket=source).update(ticket=target)
        TicketMessage.objects.create(
            ticket=target,
            author=actor,
            internal=True,
            body=f"Merged {source.number} ({source.subject}) into this ticket: "
            f"{moved} message(s) moved.",
        )
        TicketMessage.objects.create(
            ticket=source,
            author=actor,
            body=f"This request was merged into ticket {target.number}; "
            "the conversation continues there.",
        )
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        _transition(source, TicketStatus.CLOSED, actor=actor, reason=f"merged into {target.pk}")
        target.save(update_fields=["updated_at"])
        audit.record(
            actor=actor,
            action=AuditAction.OTHER,
            resource=target,
            operation="merge",
            merged_ticket_id=source.pk,
            messages_moved=moved,
        )
    return target


def auto_close_resolved(*, now: datetime | None = None) -> int:
    """Close tickets resolved longer ago than ``support_auto_close_days``. Safe to run twice
    and alongside itself: each ticket is re-checked under its row lock (skip_locked)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=get_config("support_auto_close_days"))
    ids = list(
        Ticket.objects.filter(status=TicketStatus.RESOLVED, resolved_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    closed = 0
    for pk in ids:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=TicketStatus.RESOLVED, resolved_at__lt=cutoff)
                .first()
            )
            if ticket is None:
                continue
            _transition(ticket, TicketStatus.CLOSED, actor=None, reason="auto-close")
            closed += 1
    return closed
