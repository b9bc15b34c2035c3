"""Confirming that the person at the keyboard owns the account, for a customer who has no
password (they signed up with Google or GitHub).

allauth 65 re-authenticates by password (or a second factor) only: for an account that has
neither it skips the check altogether. So the product's own rule stands in for the password:
a sign-in through one of the account's providers, in this browser session, within the last
``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds (allauth's setting, 300 by default). allauth
records every sign-in step in the session (method, provider, time) and forgets them when the
session ends, so "signed in again with GitHub a minute ago" is read from there. Signing in
again with the provider while signed in starts a new session with a fresh record.
"""

import time

from allauth.account import app_settings as allauth_account_settings
from allauth.account.authentication import get_authentication_records
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest


def window_seconds() -> int:
    return int(allauth_account_settings.REAUTHENTICATION_TIMEOUT)


def window_minutes() -> int:
    return max(1, window_seconds() // 60)


def recent_provider_sign_in(request: HttpRequest) -> dict | None:
    """This session's latest sign-in through a provider (``{"provider": "github", "at": ...}``)
    when it is within the window, otherwise None."""
    now = time.time()
    for record in reversed(get_authentication_records(request, request.user)):
        if record.get("method") != "socialaccount":
            continue
        at = float(record.get("at") or 0)
        return record if 0 <= now - at < window_seconds() else None
    return None


def needs_provider_sign_in(request: HttpRequest) -> bool:
    """Whether a customer without a password must sign in with their provider again first."""
    user = request.user
    if isinstance(user, AnonymousUser) or user.has_usable_password():
        return False
    return recent_provider_sign_in(request) is None
