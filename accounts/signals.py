"""Connects Django's and allauth's account signals to our services (sessions, audit)."""

from allauth.account.signals import (
    email_changed,
    password_changed,
    password_reset,
    password_set,
)
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from accounts.login_sessions import end_login_session, end_other_sessions, start_login_session
from accounts.services import record_email_change


@receiver(user_logged_in, dispatch_uid="accounts.login_session_started")
def _login_session_started(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        start_login_session(user=user, request=request)


@receiver(user_logged_out, dispatch_uid="accounts.login_session_ended")
def _login_session_ended(sender, request, user, **kwargs):
    if request is not None and user is not None and hasattr(request, "session"):
        end_login_session(user=user, session_key=request.session.session_key)


@receiver(password_changed, dispatch_uid="accounts.password_changed_ends_other_sessions")
@receiver(password_set, dispatch_uid="accounts.password_set_ends_other_sessions")
@receiver(password_reset, dispatch_uid="accounts.password_reset_ends_other_sessions")
def _password_changed(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        end_other_sessions(user=user, request=request)


@receiver(email_changed, dispatch_uid="accounts.email_changed_is_audited")
def _email_changed(sender, request, user, from_email_address, to_email_address, **kwargs):
    record_email_change(
        user=user,
        old_email=from_email_address.email if from_email_address else "",
        new_email=to_email_address.email,
    )
