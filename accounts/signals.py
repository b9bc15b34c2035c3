"""Connects Django's login signals to the login-session service (bookkeeping only)."""

from allauth.account.signals import password_changed, password_reset, password_set
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver


@receiver(user_logged_in, dispatch_uid="accounts.login_session_started")
def _login_session_started(sender, request, user, **kwargs):
    from accounts.services import start_login_session

    if request is not None and hasattr(request, "session"):
        start_login_session(user=user, request=request)


@receiver(user_logged_out, dispatch_uid="accounts.login_session_ended")
def _login_session_ended(sender, request, user, **kwargs):
    from accounts.services import end_login_session

    if request is not None and user is not None and hasattr(request, "session"):
        end_login_session(user=user, session_key=request.session.session_key)


@receiver(password_changed, dispatch_uid="accounts.password_changed_ends_other_sessions")
@receiver(password_set, dispatch_uid="accounts.password_set_ends_other_sessions")
@receiver(password_reset, dispatch_uid="accounts.password_reset_ends_other_sessions")
def _password_changed(sender, request, user, **kwargs):
    from accounts.services import end_other_sessions

    if request is not None and hasattr(request, "session"):
        end_other_sessions(user=user, request=request)
