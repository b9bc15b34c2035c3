"""Refusals raised by accounts services; the API renders them as {"code", "detail", "fields"}."""

from typing import Any

from rest_framework import status

from core.api import DomainError


class EmailTaken(DomainError):
    code = "email_taken"
    default_message = "An account with this e-mail address already exists."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        message = message or self.default_message
        super().__init__(message, fields={"email": [message]}, **extra)


class WeakPassword(DomainError):
    code = "weak_password"
    default_message = "This password is too weak."

    def __init__(self, messages: list[str], field: str = "password"):
        super().__init__(messages[0] if messages else None, fields={field: list(messages)})


class WrongPassword(DomainError):
    code = "wrong_password"
    default_message = "The password is not correct."

    def __init__(self, message: str | None = None):
        message = message or self.default_message
        super().__init__(message, fields={"password": [message]})


class NoPassword(DomainError):
    """The account has no password to confirm with (it signs in with Google or GitHub)."""

    code = "no_password"
    default_message = (
        "This account has no password: it signs in with Google or GitHub. Delete it on the "
        "account page (/account/delete/) after signing in again with your provider."
    )

    def __init__(self, message: str | None = None):
        message = message or self.default_message
        super().__init__(message, fields={"password": [message]})


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status_code = status.HTTP_401_UNAUTHORIZED
    default_message = "The e-mail address or password is not correct."


class AccountDisabled(DomainError):
    code = "account_disabled"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "This account is suspended or closed and cannot sign in."


class EmailNotVerified(DomainError):
    code = "email_not_verified"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "Confirm your e-mail address (see the link we sent) before signing in."


class LockedOut(DomainError):
    code = "locked_out"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


class NotAllowed(DomainError):
    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "You do not have permission to do this."


class AccountDeleted(DomainError):
    code = "account_deleted"
    status_code = status.HTTP_409_CONFLICT
    default_message = "This account was deleted and cannot be changed."
