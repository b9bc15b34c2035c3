"""Refusals raised by the credits services; the API's exception handler renders them."""

from rest_framework import status

from core.api import DomainError


class InsufficientCredits(DomainError):
    """Raised with ``balance=`` and ``cost=`` so the client can show both."""

    code = "insufficient_credits"
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_message = "Not enough credits for this operation."


class UnknownOperation(DomainError):
    code = "unknown_operation"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "This operation does not exist or is not available."


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_message = "This idempotency key was already used for a different request."


class InvalidCreditAmount(DomainError):
    code = "invalid_amount"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "The number of credits is not valid."


class AdjustmentBelowZero(DomainError):
    code = "adjustment_below_zero"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "An adjustment may take the balance down to zero, not below."


class NotRefundable(DomainError):
    code = "not_refundable"
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "Only a consumption can be refunded."


class GrantNotFound(DomainError):
    code = "grant_not_found"
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "No credit grant with this key."


class StaffOnly(DomainError):
    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Only staff may adjust credits."
