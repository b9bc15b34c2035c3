"""Users, their sessions and API keys, and stored files."""

import hashlib
import secrets
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.roles import Role
from core.fields import EncryptedDateField, EncryptedJSONField, EncryptedTextField
from core.models import AliveManager, TimeStampedModel


class Status(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    INACTIVE = "INACTIVE", "Inactive"
    SUSPENDED = "SUSPENDED", "Suspended"
    DELETED = "DELETED", "Deleted"


# Statuses whose users may sign in and call the API. `is_active` mirrors this, enforced by a
# constraint, so Django's own checks (admin, auth backends, session loading) apply it too.
SIGN_IN_STATUSES = (Status.ACTIVE, Status.INACTIVE)
STAFF_ROLES = (Role.ADMIN, Role.FINANCE, Role.SUPPORT)
# Who works the support desk: tickets are assigned to these roles.
SUPPORT_DESK_ROLES = (Role.ADMIN, Role.SUPPORT)


_UserManagerBase = BaseUserManager.from_queryset(models.QuerySet)


class UserManager(_UserManagerBase):
    use_in_migrations = True

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(role=Role.ADMIN, status=Status.ACTIVE, is_active=True, email_verified=True)
        fields.setdefault("email_verified_at", timezone.now())
        return self.create_user(email, password, **fields)


class AllUsersManager(UserManager):
    """Includes soft-deleted users: for the staff console and data-rights tooling."""

    def get_queryset(self):
        return models.QuerySet(self.model, using=self._db)


def normalize_email(email: str) -> str:
    # E-mail is the login and is unique case-insensitively; we store it case-folded.
    return (email or "").strip().lower()


class User(AbstractBaseUser, PermissionsMixin, TimeStampedModel):
    email = models.EmailField(max_length=254, unique=True)
    email_verified = models.BooleanField(default=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    display_name = models.CharField(max_length=150, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    phone = EncryptedTextField(blank=True, null=True)
    date_of_birth = EncryptedDateField(blank=True, null=True)
    gender = models.CharField(max_length=32, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    language = models.CharField(max_length=16, default="en")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    is_active = models.BooleanField(default=True, editable=False)
    billing_address = EncryptedJSONField(blank=True, null=True)
    tax_id = EncryptedTextField(blank=True, null=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()
    all_objects = AllUsersManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="user_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(is_active=True, status__in=SIGN_IN_STATUSES)
                | Q(is_active=False, status__in=[Status.SUSPENDED, Status.DELETED]),
                name="user_is_active_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True) | Q(status=Status.DELETED),
                name="user_deleted_at_only_when_deleted",
            ),
        ]
        indexes = [models.Index(fields=["role", "status"])]

    def __str__(self):
        return self.email

    # A property in the class body replaces PermissionsMixin's is_superuser column: only the
    # ADMIN role is all-powerful, and only while it may sign in.
    @property
    def is_superuser(self) -> bool:  # type: ignore[override]  # replaces the column on purpose
        return self.role == Role.ADMIN and self.is_active

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES and self.is_active

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN and self.is_active

    @property
    def is_support(self) -> bool:
        return self.role == Role.SUPPORT and self.is_active

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def name(self) -> str:
        return self.display_name or self.full_name or self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.first_name or self.email

    def has_perm(self, perm, obj=None):
        if not self.is_active:
            return False
        if self.role == Role.ADMIN:
            return True
        if self.role in STAFF_ROLES:
            # permissions reads the staff policy, which loads DRF, whose settings load this module.
            from accounts.permissions import role_has_perm  # noqa: PLC0415 - see the line above

            return role_has_perm(self.role, perm)
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label):
        if not self.is_active:
            return False
        if self.role == Role.ADMIN:
            return True
        if self.role in STAFF_ROLES:
            from accounts.permissions import role_sees_app  # noqa: PLC0415 - as in has_perm

            return role_sees_app(self.role, app_label)
        return super().has_module_perms(app_label)


class LoginSession(TimeStampedModel):
    """One signed-in browser: the customer sees these and can end any of them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions"
    )
    session_key = models.CharField(max_length=64, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self):
        return f"{self.user} from {self.ip_address or 'unknown'}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


API_KEY_PREFIX = "bk_"


def hash_api_key(raw_key: str) -> str:
    # Keys are 256-bit random, so a plain SHA-256 is enough (no need for a slow hash).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_api_key() -> tuple[str, str]:
    """Return (raw key shown once, prefix kept visible)."""
    prefix = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


class ApiKey(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{API_KEY_PREFIX}{self.prefix}… ({self.name or 'unnamed'})"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class StoredFile(TimeStampedModel):
    class Provider(models.TextChoices):
        LOCAL = "local", "Local disk"
        S3 = "s3", "S3"
        URL = "url", "External URL"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="stored_files",
        null=True,
        blank=True,
    )
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.LOCAL)
    url = models.URLField(max_length=1000, blank=True)
    path = models.CharField(max_length=500, blank=True)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = AliveManager()
    all_objects = models.Manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(size_bytes__gte=0), name="storedfile_size_gte_0"),
        ]
        indexes = [models.Index(fields=["owner", "deleted_at"])]

    def __str__(self):
        return self.name
