"""Writes for accounts: registration, status changes, API keys, data rights (sign-in records
are ``accounts.login_sessions``)."""

from collections.abc import Iterator
from typing import Any

from allauth.account.internal.flows.email_verification import send_verification_email_to_address
from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import api_key_cache, authority, data_export, deletion, signup_hooks
from accounts.backends import LOCKOUT_MESSAGE
from accounts.login_sessions import end_all_sessions
from accounts.models import (
    SIGN_IN_STATUSES,
    ApiKey,
    LoginSession,
    Role,
    Status,
    User,
    generate_api_key,
    hash_api_key,
    normalize_email,
)
from accounts.profile import clean_profile
from core import audit, system_config
from core.errors import (
    AccountDeleted,
    AccountDisabled,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    LockedOut,
    NoPassword,
    NotAllowed,
    WeakPassword,
    WrongPassword,
)
from core.models import AuditAction, SystemConfig


def register_user(
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    request: HttpRequest | None = None,
) -> User:
    """Create a CUSTOMER account, unverified. Used by the signup page and the signup API.

    Validates the e-mail and the password (Django's validators); raises EmailTaken for an
    address already in use in any letter case, WeakPassword, or ValidationError for a bad
    address. Grants the signup bonus in the same transaction.
    Not idempotent: a second call with the same e-mail raises EmailTaken.
    """
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from exc
    if User.all_objects.filter(email=email).exists():
        raise EmailTaken()
    candidate = User(email=email, first_name=first_name or "", last_name=last_name or "")
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        raise WeakPassword(exc.messages) from exc
    try:
        with transaction.atomic():
            user: User = User.objects.create_user(
                email, password, first_name=first_name or "", last_name=last_name or ""
            )
            audit.record(
                actor=user,
                action=AuditAction.CREATE,
                resource=user,
                new={"email": email, "role": user.role},
                via="signup",
            )
            # What other apps give a new account (the signup bonus) is part of creating it:
            # same transaction, so a failed signup leaves nothing behind.
            signup_hooks.user_signed_up(user=user)
    except IntegrityError as exc:
        # Two signups for one address at the same moment: the unique index decides.
        raise EmailTaken() from exc
    return user


def send_signup_confirmation(*, request: HttpRequest, user: User) -> None:
    """Give an API-created user allauth's address row and mail the confirmation link (the
    signup page does both itself). Call after commit: it sends e-mail."""

    address, _ = EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"primary": True, "verified": False}
    )
    if not address.verified:
        send_verification_email_to_address(request, address, signup=True)


def mark_email_verified(*, user: User) -> User:
    """Record that ``user`` confirmed their e-mail address. Safe to call twice."""
    with transaction.atomic():
        locked: User = User.all_objects.select_for_update().get(pk=user.pk)
        if not locked.email_verified:
            locked.email_verified = True
            locked.email_verified_at = timezone.now()
            locked.save(update_fields=["email_verified", "email_verified_at", "updated_at"])
            audit.record(
                actor=locked,
                action=AuditAction.UPDATE,
                resource=locked,
                old={"email_verified": False},
                new={"email_verified": True},
            )
    user.email_verified, user.email_verified_at = locked.email_verified, locked.email_verified_at
    return locked


def record_email_change(*, user: User, old_email: str, new_email: str) -> None:
    """Audit a sign-in e-mail change made on allauth's e-mail page (it saves the user itself).

    allauth only makes a verified address primary, so the new address is verified too.
    """
    with transaction.atomic():
        locked: User = User.all_objects.select_for_update().get(pk=user.pk)
        if not locked.email_verified:
            locked.email_verified, locked.email_verified_at = True, timezone.now()
            locked.save(update_fields=["email_verified", "email_verified_at", "updated_at"])
        audit.record(
            actor=locked,
            action=AuditAction.UPDATE,
            resource=locked,
            old={"email": old_email},
            new={"email": new_email},
            via="email_page",
        )


def _audit_value(value: Any) -> Any:
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)


# Personal data is encrypted at rest; the audit log must not hold it in plaintext either.
_PERSONAL_FIELDS = {"phone", "date_of_birth", "billing_address", "tax_id"}


def update_profile(*, user: User, data: dict, actor: User | None) -> User:
    """Change profile fields of ``user`` (see accounts.profile.PROFILE_FIELDS).

    Raises ValidationError({field: [...]}) for bad values or fields that are not part of the
    profile (role, status, e-mail...): nothing is written then. Locks the user row. Safe to
    call twice with the same data (the second call changes and audits nothing). Someone
    else's profile needs the staff policy's ``accounts.user.edit_profile`` (NotAuthorized).
    """
    authority.require(actor, "accounts.user.edit_profile", owner_id=user.pk)
    cleaned = clean_profile(data)
    with transaction.atomic():
        locked: User = User.all_objects.select_for_update().get(pk=user.pk)
        if locked.deleted_at is not None:
            raise AccountDeleted()
        old, new = {}, {}
        for name, value in cleaned.items():
            current = getattr(locked, name)
            if current == value or (current in (None, "") and value in (None, "")):
                continue
            hidden = name in _PERSONAL_FIELDS
            old[name] = "[changed]" if hidden else _audit_value(current)
            new[name] = "[changed]" if hidden else _audit_value(value)
            setattr(locked, name, value)
        if new:
            locked.save(update_fields=[*new, "updated_at"])
            audit.record(actor=actor, action=AuditAction.UPDATE, resource=locked, old=old, new=new)
    for name in cleaned:
        setattr(user, name, getattr(locked, name))
    return locked


def change_role(*, user: User, role: str, actor: User) -> User:
    """Give ``user`` another role. Only an ADMIN may; raises NotAllowed otherwise."""
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role {role!r}."]})
    if actor is None:
        raise NotAllowed("Only administrators can change roles.")
    authority.require(actor, "accounts.user.change_role")
    with transaction.atomic():
        locked: User = User.all_objects.select_for_update().get(pk=user.pk)
        if locked.role != role:
            old = locked.role
            locked.role = role
            locked.save(update_fields=["role", "updated_at"])
            api_key_cache.forget_user(locked.pk)
            audit.record(
                actor=actor,
                action=AuditAction.ROLE_CHANGE,
                resource=locked,
                old={"role": old},
                new={"role": role},
            )
    user.role = locked.role
    return locked


def change_status(*, user: User, status: str, actor: User | None, reason: str = "") -> User:
    """Move ``user`` to ``status``; suspending or deleting ends their sessions at once, and
    their API keys stop working on the next request (the keys' cached entries are dropped)."""
    if status not in Status.values:
        raise ValueError(f"Unknown status {status!r}")
    authority.require(actor, "accounts.user.change_status")
    with transaction.atomic():
        locked: User = User.all_objects.select_for_update().get(pk=user.pk)
        if locked.deleted_at is not None:
            # Undeleting would need the anonymised personal data back: it is gone.
            raise AccountDeleted()
        old = locked.status
        locked.status = status
        locked.is_active = status in SIGN_IN_STATUSES
        locked.save(update_fields=["status", "is_active", "updated_at"])
        api_key_cache.forget_user(locked.pk)
        audit.record(
            actor=actor,
            action=AuditAction.STATUS_CHANGE,
            resource=locked,
            old={"status": old},
            new={"status": status},
            reason=reason,
        )
        if not locked.is_active:
            end_all_sessions(user=locked)
    user.refresh_from_db()
    return locked


def create_api_key(
    *, user: User, name: str = "", scopes: list[str] | None = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored or shown again."""
    raw, prefix = generate_api_key()
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=user, name=name, prefix=prefix, hashed_key=hash_api_key(raw), scopes=scopes or []
        )
        audit.record(
            actor=user,
            action=AuditAction.CREATE,
            resource=key,
            new={"name": name, "prefix": prefix},
        )
    return key, raw


def issue_api_token(
    *, request: HttpRequest, email: str, password: str, name: str = ""
) -> tuple[ApiKey, str]:
    """Trade e-mail and password for a new API key (POST /api/v1/auth/token/).

    ``request`` is the Django HttpRequest: the check goes through django.contrib.auth's
    ``authenticate`` so django-axes counts failures and enforces its lockout. Raises LockedOut,
    AccountDisabled (right password, suspended or closed account), EmailNotVerified or
    InvalidCredentials. Each successful call creates a new key.
    """
    email = normalize_email(email)
    user = authenticate(request=request, email=email, password=password)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(LOCKOUT_MESSAGE)
    if user is None:
        refused = User.objects.filter(email=email, is_active=False).first()
        if refused is not None and refused.check_password(password):
            raise AccountDisabled()
        raise InvalidCredentials()
    if not user.email_verified:
        raise EmailNotVerified()
    return create_api_key(user=user, name=name or "API token")


def revoke_api_key(*, user: User, key_id: int, actor: User) -> ApiKey:
    """Revoke one of ``user``'s keys; the next request with it is refused (its cached entry
    is dropped). Safe to call twice."""
    authority.require(actor, "accounts.user.end_sessions", owner_id=user.pk)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key_id, user=user)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at", "updated_at"])
            api_key_cache.forget(key.hashed_key)
            audit.record(
                actor=actor, action=AuditAction.DELETE, resource=key, new={"revoked": True}
            )
    return key


def force_logout(*, user: User, actor: User | None) -> int:
    """End every browser session of ``user`` now (API keys stay valid). Returns how many.
    Someone else's sessions need the policy's ``accounts.user.end_sessions``."""
    authority.require(actor, "accounts.user.end_sessions", owner_id=user.pk)
    with transaction.atomic():
        ended = end_all_sessions(user=user)
        audit.record(
            actor=actor,
            action=AuditAction.LOGOUT,
            resource=user,
            new={"sessions_ended": ended},
            scope="everywhere",
        )
    return ended


def export_user_data(*, user: User) -> Iterator[str]:
    """Everything we hold about ``user``: the text of one JSON document with every registered
    section (accounts.data_export), in pieces, read as they are written (a section's long
    lists a chunk of rows at a time), so memory does not grow with the account's history.
    Audited as EXPORT when called, before the first piece. Read-only apart from the audit
    row; the sections are read one after the other, each as it stands when it is read."""
    document = {
        "format": "billing-back-office.user-export",
        "version": 1,
        "exported_at": timezone.now().isoformat(),
        "user_id": user.pk,
    }
    chosen = data_export.sections()
    with transaction.atomic():
        audit.record(
            actor=user, action=AuditAction.EXPORT, resource=user, new={"sections": sorted(chosen)}
        )
    # A section's long lists are iterators: nothing is read before it is written.
    document.update((name, fn(user)) for name, fn in chosen.items())
    return data_export.json_pieces(document)


def check_password_or_raise(*, user: User, password: str) -> None:
    """WrongPassword, or NoPassword for an account that signs in only with a provider (the
    account pages confirm those through the provider instead: accounts.reauth)."""
    if not user.has_usable_password():
        raise NoPassword()
    if not password or not user.check_password(password):
        raise WrongPassword()


def delete_account(*, user: User, actor: User | None) -> None:
    """Close ``user``'s account: anonymise personal data, end all sessions, revoke API keys.

    First every app settles what the account still has running (accounts.deletion: billing
    cancels its subscriptions and voids its open invoices), outside the transaction because
    that may call a payment provider; if that raises (a DomainError, e.g. the provider is
    unreachable), nothing is anonymised and the call can be repeated.
    Financial records (orders, invoices, payments, credit ledgers) keep pointing at the row,
    which stays, anonymised, with status DELETED. Locks the user row. Raises AccountDeleted
    if it was already deleted. Callers confirm the password first (check_password_or_raise)
    or, for an account without one, a recent sign-in with its provider (accounts.reauth).
    """

    if User.all_objects.filter(pk=user.pk, deleted_at__isnull=False).exists():
        raise AccountDeleted()
    deletion.settle(user)
    now = timezone.now()
    with transaction.atomic():
        locked: User = User.all_objects.select_for_update().get(pk=user.pk)
        if locked.deleted_at is not None:
            raise AccountDeleted()
        old_email, old_status = locked.email, locked.status
        locked.email = f"deleted-{locked.pk}@invalid"
        for name in ("first_name", "last_name", "display_name", "avatar_url", "gender"):
            setattr(locked, name, "")
        locked.phone = locked.date_of_birth = locked.billing_address = locked.tax_id = None
        locked.external_id = None
        locked.email_verified, locked.email_verified_at = False, None
        locked.set_unusable_password()
        locked.status, locked.is_active, locked.deleted_at = Status.DELETED, False, now
        locked.save()
        EmailAddress.objects.filter(user=locked).delete()
        ApiKey.objects.filter(user=locked, revoked_at=None).update(revoked_at=now, updated_at=now)
        api_key_cache.forget_user(locked.pk)
        locked.stored_files.filter(deleted_at=None).update(deleted_at=now, updated_at=now)
        ended = end_all_sessions(user=locked)
        # Where and with what browser they signed in is personal data too. (Audit rows keep
        # theirs: the log is append-only by design and kept for accountability.)
        LoginSession.objects.filter(user=locked).update(
            ip_address=None, user_agent="", updated_at=now
        )
        audit.record(
            actor=actor,
            action=AuditAction.DELETE,
            resource=locked,
            old={"status": old_status},
            new={"status": Status.DELETED},
            anonymised=True,
            sessions_ended=ended,
            by_self=bool(actor and actor.pk == locked.pk),
            email_domain=old_email.rpartition("@")[2],
        )
    user.refresh_from_db()


def set_config(*, key: str, value: Any, actor: User | None) -> SystemConfig:
    """Set a run-time setting. Validates against its declared type (ValidationError), writes,
    audits CONFIG_CHANGE with old and new values, and clears the cache after commit."""
    authority.require(actor, "config.change")
    typed = system_config.coerce(key, value)
    stored = system_config.to_json(typed)
    with transaction.atomic():
        row = SystemConfig.objects.select_for_update().filter(key=key).first()
        old = (
            row.value
            if row is not None
            else system_config.to_json(system_config.REGISTRY[key].default)
        )
        if row is None:
            row = SystemConfig.objects.create(key=key, value=stored, updated_by=actor)
        else:
            row.value, row.updated_by = stored, actor
            row.save(update_fields=["value", "updated_by", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditAction.CONFIG_CHANGE,
            resource=row,
            old={"value": old},
            new={"value": stored},
            setting=key,
        )
        transaction.on_commit(lambda: system_config.forget(key))
    system_config.forget(key)
    return row
