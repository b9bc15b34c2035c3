"""The demo users: staff of each role and two customers (seed_demo's first step)."""

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, Status, User
from accounts.seed_steps import SeedContext
from accounts.services import register_user

DEMO_USERS = [
    {
        "email": "admin@demo.example",
        "role": Role.ADMIN,
        "first_name": "Ada",
        "last_name": "Admin",
        "password_key": "admin",
    },
    {
        "email": "support@demo.example",
        "role": Role.SUPPORT,
        "first_name": "Sam",
        "last_name": "Support",
        "password_key": "support",
    },
    {
        "email": "finance@demo.example",
        "role": Role.FINANCE,
        "first_name": "Fran",
        "last_name": "Finance",
        "password_key": "finance",
    },
    {
        "email": "alice@demo.example",
        "role": Role.CUSTOMER,
        "first_name": "Alice",
        "last_name": "Anders",
        "password_key": "customer",
    },
    {
        "email": "bob@demo.example",
        "role": Role.CUSTOMER,
        "first_name": "Bob",
        "last_name": "Brown",
        "password_key": "customer",
    },
]
PASSWORD_KEYS = ("admin", "customer", "support", "finance")


def seed_users(context: SeedContext) -> None:
    """Create (or bring back to their demo state) every demo user, with its password."""
    for spec in DEMO_USERS:
        context.users[spec["email"]] = ensure_user(spec, context.passwords[spec["password_key"]])


@transaction.atomic
def ensure_user(spec: dict, password: str) -> User:
    user = User.all_objects.filter(email=spec["email"]).first()
    if user is None:
        user = register_user(
            email=spec["email"],
            password=password,
            first_name=spec["first_name"],
            last_name=spec["last_name"],
        )
    elif not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    user.role = spec["role"]
    user.status = Status.ACTIVE
    user.is_active = True
    user.email_verified = True
    user.email_verified_at = user.email_verified_at or timezone.now()
    user.save(
        update_fields=[
            "role",
            "status",
            "is_active",
            "email_verified",
            "email_verified_at",
            "updated_at",
        ]
    )
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user
