"""Create (or repair) an administrator account: `manage.py create_admin --email E`."""

import os
import secrets

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, Status, User, normalize_email
from core import audit
from core.models import AuditAction


class Command(BaseCommand):
    help = (
        "Create an ADMIN user, or make an existing one ADMIN, ACTIVE and verified. "
        "The password comes from --password, else $ADMIN_PASSWORD, else is generated "
        "and printed (existing users keep theirs unless one is given)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", default=None)

    def handle(self, *args, email, password, **options):
        email = normalize_email(email)
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"{email!r} is not a valid e-mail address") from exc
        password = password or os.environ.get("ADMIN_PASSWORD") or None
        existing = User.all_objects.filter(email=email).first()
        if existing is not None and existing.deleted_at is not None:
            raise CommandError(f"{email} belongs to a deleted account and cannot be reused")
        generated = False
        if password is None and existing is None:
            password, generated = secrets.token_urlsafe(16), True
        if password is not None and not generated:
            try:
                password_validation.validate_password(password, user=existing)
            except ValidationError as exc:
                raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        user, created = self._ensure_admin(email, password)
        self._ensure_verified_address(user)

        self.stdout.write(
            self.style.SUCCESS(f"{'Created' if created else 'Updated'} administrator {user.email}")
        )
        if generated:
            self.stdout.write(f"Generated password: {password}")
        elif password is not None:
            self.stdout.write("Password: the one you gave.")
        else:
            self.stdout.write("Password: unchanged.")
        self.stdout.write("Log in at /accounts/login/ (site) or /admin/ (staff console).")

    def _ensure_admin(self, email: str, password: str | None) -> tuple[User, bool]:
        with transaction.atomic():
            user = User.all_objects.select_for_update().filter(email=email).first()
            if user is None:
                user = User.objects.create_superuser(email, password)
                audit.record(
                    actor=None,
                    action=AuditAction.CREATE,
                    resource=user,
                    new={"email": email, "role": Role.ADMIN},
                    via="create_admin",
                )
                return user, True
            old = {"role": user.role, "status": user.status, "email_verified": user.email_verified}
            user.role, user.status, user.is_active = Role.ADMIN, Status.ACTIVE, True
            if not user.email_verified:
                user.email_verified, user.email_verified_at = True, timezone.now()
            if password is not None:
                user.set_password(password)
            user.save()
            audit.record(
                actor=None,
                action=AuditAction.UPDATE,
                resource=user,
                old=old,
                new={
                    "role": user.role,
                    "status": user.status,
                    "email_verified": True,
                    "password_reset": password is not None,
                },
                via="create_admin",
            )
        return user, False

    def _ensure_verified_address(self, user: User) -> None:
        # allauth's mandatory verification reads its own address table.
        from allauth.account.models import EmailAddress  # noqa: PLC0415 - why: the comment above

        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
