"""Refusals the support services raise; the API renders them as {"code", "detail"}."""

from rest_framework import status

from accounts import authority
from core.api import DomainError


class InvalidTransition(DomainError):
    code = "invalid_transition"
    default_message = "This ticket cannot move to that status."


class UrgentNotAllowed(DomainError):
    code = "urgent_staff_only"
    default_message = "URGENT priority is set by our support team; choose LOW, MEDIUM or HIGH."


class TicketClosed(DomainError):
    code = "ticket_closed"
    default_message = "This ticket is closed. Please open a new ticket."


class ReopenWindowPassed(DomainError):
    code = "reopen_window_passed"
    default_message = "This ticket was resolved too long ago to reopen. Please open a new ticket."


class StaffOnly(DomainError):
    code = "staff_only"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Only support staff can do this."


class InvalidAssignee(DomainError):
    code = "invalid_assignee"
    default_message = "Tickets can only be assigned to SUPPORT or ADMIN staff."


class MergeRefused(DomainError):
    code = "merge_refused"
    default_message = "These tickets cannot be merged."


class AttachmentRefused(DomainError):
    code = "attachment_refused"
    default_message = "This file cannot be attached."


class RelatedObjectRefused(DomainError):
    code = "related_object_invalid"
    default_message = "You can only link your own orders and subscriptions."


class ApprovalRefused(DomainError):
    code = "approval_refused"
    default_message = "This approval cannot be decided."


class SelfApprovalRefused(ApprovalRefused):
    code = "self_approval_refused"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "You cannot approve your own request: another staff member must approve it."


UnknownAction = authority.UnknownAction  # an action the staff policy does not know
