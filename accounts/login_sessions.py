"""Browser sign-in records (LoginSession): one per sign-in, ended at sign-out, by the user
from the sessions page, by staff, and everywhere when an account is suspended or closed."""

from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import authority
from accounts.models import LoginSession, User
from core import audit
from core.models import AuditAction
from core.request_context import info_from_request


def start_login_session(*, user: User, request: HttpRequest) -> LoginSession:
    """Record a sign-in. Django rotates the session key at login, so the key is fresh."""

    if request.session.session_key is None:
        request.session.save()
    session_key = request.session.session_key
    assert session_key is not None  # a saved session has its key
    info = info_from_request(request)
    with transaction.atomic():
        session = LoginSession.objects.create(
            user=user,
            session_key=session_key,
            ip_address=info.ip_address,
            user_agent=info.user_agent,
            expires_at=request.session.get_expiry_date(),
        )
        audit.record(actor=user, action=AuditAction.LOGIN, resource=user)
    return session


def end_login_session(*, user: User, session_key: str | None) -> None:
    if not session_key:
        return
    LoginSession.objects.filter(user=user, session_key=session_key, revoked_at=None).update(
        revoked_at=timezone.now()
    )


def revoke_login_session(*, user: User, session_id: int, actor: User) -> LoginSession:
    """End one of ``user``'s sessions at once. Raises LoginSession.DoesNotExist for others'."""
    authority.require(actor, "accounts.user.end_sessions", owner_id=user.pk)
    with transaction.atomic():
        session = LoginSession.objects.select_for_update().get(pk=session_id, user=user)
        if session.revoked_at is None:
            session.revoked_at = timezone.now()
            session.save(update_fields=["revoked_at", "updated_at"])
        Session.objects.filter(session_key=session.session_key).delete()
        audit.record(
            actor=actor, action=AuditAction.LOGOUT, resource=session, new={"revoked": True}
        )
    return session


def end_all_sessions(*, user: User) -> int:
    """Log ``user`` out everywhere: browser sessions now, API keys are checked per request."""
    keys = list(
        LoginSession.objects.filter(user=user, revoked_at=None).values_list(
            "session_key", flat=True
        )
    )
    LoginSession.objects.filter(user=user, revoked_at=None).update(revoked_at=timezone.now())
    # Every login is recorded (user_logged_in -> start_login_session), so the records name
    # every browser session. A session without a record cannot outlive a suspension either:
    # Django loads no user whose is_active is false.
    return Session.objects.filter(session_key__in=keys).delete()[0]


def end_other_sessions(*, user: User, request: HttpRequest) -> int:
    """After a password change, sign ``user`` out of every browser but the one in ``request``.

    Django already refuses the other sessions on their next request (the password hash they
    hold no longer matches); this deletes them too and marks their records revoked, so the
    sessions page does not list dead sessions as active. ``update_session_auth_hash`` gave
    the current browser a new session key, so its record (under the old key) is revoked and
    a record under the new key takes its place. Returns how many other sessions were ended;
    safe to call twice.
    """

    # After a reset from an e-mailed link the browser is not signed in: nothing is kept.
    here = getattr(request, "user", None)
    signed_in_here = bool(here and here.is_authenticated and here.pk == user.pk)
    if signed_in_here and request.session.session_key is None:
        request.session.save()
    current = request.session.session_key if signed_in_here else None
    with transaction.atomic():
        others = list(
            LoginSession.objects.select_for_update()
            .filter(user=user, revoked_at=None)
            .exclude(session_key=current)
            .order_by("pk")
        )
        keys = [row.session_key for row in others]
        LoginSession.objects.filter(pk__in=[row.pk for row in others]).update(
            revoked_at=timezone.now()
        )
        ended = Session.objects.filter(session_key__in=keys).delete()[0]
        if current is not None:
            info = info_from_request(request)
            LoginSession.objects.get_or_create(
                session_key=current,
                defaults={
                    "user": user,
                    "ip_address": info.ip_address,
                    "user_agent": info.user_agent,
                    "expires_at": request.session.get_expiry_date(),
                },
            )
        audit.record(
            actor=user,
            action=AuditAction.LOGOUT,
            resource=user,
            new={"other_sessions_ended": ended, "reason": "password changed"},
        )
    return ended
