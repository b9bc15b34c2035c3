"""Writes for accounts: registration, status changes, sessions, API keys, data rights."""

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import (
    SIGN_IN_STATUSES,
    ApiKey,
    AuditAction,
    LoginSession,
    Status,
    User,
    generate_api_key,
    hash_api_key,
)


def start_login_session(*, user: User, request) -> LoginSession:
    """Record a sign-in. Django rotates the session key at login, so the key is fresh."""
    from accounts.request_context import info_from_request

    if request.session.session_key is None:
        request.session.save()
    info = info_from_request(request)
    with transaction.atomic():
        session = LoginSession.objects.create(
            user=user,
            session_key=request.session.session_key,
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
    with transaction.atomic():
        session = LoginSession.objects.select_for_update().get(pk=session_id, user=user)
        if session.revoked_at is None:
            session.revoked_at = timezone.now()
            session.save(update_fields=["revoked_at", "updated_at"])
        Session.objects.filter(session_key=session.session_key).delete()
        audit.record(actor=actor, action=AuditAction.LOGOUT, resource=session,
                     new={"revoked": True})
    return session


def end_all_sessions(*, user: User) -> int:
    """Log ``user`` out everywhere: browser sessions now, API keys are checked per request."""
    keys = list(LoginSession.objects.filter(user=user, revoked_at=None)
                .values_list("session_key", flat=True))
    LoginSession.objects.filter(user=user, revoked_at=None).update(revoked_at=timezone.now())
    # Sessions created before LoginSession existed (or by other paths) are found by scanning
    # the user's own decoded sessions only when no record exists; records cover normal logins.
    return Session.objects.filter(session_key__in=keys).delete()[0]


def change_status(*, user: User, status: str, actor: User | None, reason: str = "") -> User:
    """Move ``user`` to ``status``; suspending or deleting ends their sessions at once."""
    if status not in Status.values:
        raise ValueError(f"Unknown status {status!r}")
    with transaction.atomic():
        locked = User.all_objects.select_for_update().get(pk=user.pk)
        old = locked.status
        locked.status = status
        locked.is_active = status in SIGN_IN_STATUSES
        locked.save(update_fields=["status", "is_active", "updated_at"])
        audit.record(actor=actor, action=AuditAction.STATUS_CHANGE, resource=locked,
                     old={"status": old}, new={"status": status}, reason=reason)
        if not locked.is_active:
            end_all_sessions(user=locked)
    user.refresh_from_db()
    return locked


def create_api_key(*, user: User, name: str = "", scopes: list[str] | None = None
                   ) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored or shown again."""
    raw, prefix = generate_api_key()
    with transaction.atomic():
        key = ApiKey.objects.create(user=user, name=name, prefix=prefix,
                                    hashed_key=hash_api_key(raw), scopes=scopes or [])
        audit.record(actor=user, action=AuditAction.CREATE, resource=key,
                     new={"name": name, "prefix": prefix})
    return key, raw


def revoke_api_key(*, user: User, key_id: int, actor: User) -> ApiKey:
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key_id, user=user)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at", "updated_at"])
            audit.record(actor=actor, action=AuditAction.DELETE, resource=key,
                         new={"revoked": True})
    return key
