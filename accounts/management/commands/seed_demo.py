"""Demo data for `make run`: users, then each app's own seed command. Safe to run again.

Passwords are taken from options or the environment (DEMO_ADMIN_PASSWORD,
DEMO_CUSTOMER_PASSWORD, DEMO_SUPPORT_PASSWORD, DEMO_FINANCE_PASSWORD), or generated once and
kept in .data/demo-credentials.json (readable only by you), so they are never fixed in code
and the same ones are printed on every run.
"""

import json
import os
import secrets

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, Status, User
from config.paths import DATA_DIR

CREDENTIALS_FILE = DATA_DIR / "demo-credentials.json"

DEMO_USERS = [
    {"email": "admin@demo.example", "role": Role.ADMIN, "first_name": "Ada",
     "last_name": "Admin", "password_key": "admin"},
    {"email": "support@demo.example", "role": Role.SUPPORT, "first_name": "Sam",
     "last_name": "Support", "password_key": "support"},
    {"email": "finance@demo.example", "role": Role.FINANCE, "first_name": "Fran",
     "last_name": "Finance", "password_key": "finance"},
    {"email": "alice@demo.example", "role": Role.CUSTOMER, "first_name": "Alice",
     "last_name": "Anders", "password_key": "customer"},
    {"email": "bob@demo.example", "role": Role.CUSTOMER, "first_name": "Bob",
     "last_name": "Brown", "password_key": "customer"},
]

# Each app's seed command, run in this order when it exists (apps land one by one).
APP_SEEDS = ["seed_catalog", "seed_credits", "seed_billing", "seed_support", "seed_analytics"]
APP_SEED_ARGS = {
    "seed_support": ["--customer-email", "alice@demo.example", "--customer-email",
                     "bob@demo.example", "--staff-email", "support@demo.example"],
}
DEMO_DISCOUNTS = [
    {"code": "WELCOME10", "name": "10% off your first order", "type": "PERCENTAGE",
     "percent_off": 10, "first_time_only": True},
    {"code": "SAVE5", "name": "$5 off orders of $20 or more", "type": "FIXED_AMOUNT",
     "amount_off": 500, "currency": "usd", "minimum_amount": 2000},
]


def _stored_credentials() -> dict:
    if CREDENTIALS_FILE.exists():
        return json.loads(CREDENTIALS_FILE.read_text())
    return {}


def _save_credentials(values: dict) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    CREDENTIALS_FILE.write_text(json.dumps(values, indent=2))
    CREDENTIALS_FILE.chmod(0o600)


class Command(BaseCommand):
    help = "Create demo users and demo data for every app (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--admin-password")
        parser.add_argument("--customer-password")
        parser.add_argument("--support-password")
        parser.add_argument("--finance-password")
        parser.add_argument("--skip-apps", action="store_true",
                            help="Only the users; skip each app's seed command.")

    def handle(self, *args, **options):
        passwords = self._passwords(options)
        users = {}
        for spec in DEMO_USERS:
            users[spec["email"]] = self._ensure_user(spec, passwords[spec["password_key"]])

        if not options["skip_apps"]:
            available = get_commands()
            for name in APP_SEEDS:
                if name in available:
                    self.stdout.write(f"→ {name}")
                    call_command(name, *APP_SEED_ARGS.get(name, []),
                                 stdout=self.stdout, stderr=self.stderr)
                    if name == "seed_catalog":
                        self._seed_billing(users)
        call_command("setup_periodic_tasks", stdout=self.stdout)
        self._print_summary(passwords)

    def _passwords(self, options) -> dict:
        stored = _stored_credentials()
        resolved = {}
        for key in ("admin", "customer", "support", "finance"):
            resolved[key] = (options.get(f"{key}_password")
                             or os.environ.get(f"DEMO_{key.upper()}_PASSWORD")
                             or stored.get(key)
                             or secrets.token_urlsafe(12))
        if resolved != stored:
            _save_credentials(resolved)
        return resolved

    @transaction.atomic
    def _ensure_user(self, spec: dict, password: str) -> User:
        from allauth.account.models import EmailAddress

        user = User.all_objects.filter(email=spec["email"]).first()
        if user is None:
            from accounts.services import register_user

            user = register_user(email=spec["email"], password=password,
                                 first_name=spec["first_name"], last_name=spec["last_name"])
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        user.role = spec["role"]
        user.status = Status.ACTIVE
        user.is_active = True
        user.email_verified = True
        user.email_verified_at = user.email_verified_at or timezone.now()
        user.save(update_fields=["role", "status", "is_active", "email_verified",
                                 "email_verified_at", "updated_at"])
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        return user

    def _seed_billing(self, users: dict) -> None:
        """Demo discount codes, a completed order for Alice, an unpaid invoice for Bob.

        Orders go through the real cart, checkout and payment services (manual billing), so
        the demo shows exactly what a customer's purchase produces.
        """
        from billing.models import Discount, Order
        from billing.services import cart, checkout, payments
        from catalog.models import ProductType
        from catalog.selectors import visible_products

        for spec in DEMO_DISCOUNTS:
            code = spec["code"]
            fields = {k: v for k, v in spec.items() if k != "code"}
            if not Discount.objects.filter(code__iexact=code).exists():
                Discount.objects.create(code=code, **fields)

        admin = users["admin@demo.example"]
        pack = visible_products().filter(type=ProductType.CREDIT_PACK).order_by("id").first()
        digital = (visible_products().filter(type=ProductType.DIGITAL_DOWNLOAD)
                   .order_by("id").first())
        for email, product, paid in (("alice@demo.example", pack, True),
                                     ("bob@demo.example", digital, False)):
            user = users[email]
            if product is None or Order.objects.filter(user=user).exists():
                continue
            cart.clear(user=user)
            cart.add_item(user=user, product_id=product.pk, quantity=1)
            result = checkout.checkout(user=user, method="manual",
                                       notes="Demo order created by seed_demo")
            if paid:
                payments.mark_paid_manually(order_id=result.order.pk, actor=admin,
                                            reference="DEMO-BANK-TRANSFER")
            self.stdout.write(f"  demo order {result.order.number} for {email}"
                              f" ({'paid' if paid else 'awaiting bank transfer'})")

    def _print_summary(self, passwords: dict) -> None:
        self.stdout.write(self.style.SUCCESS("\nDemo data is ready. Log in at "
                                             "http://127.0.0.1:8000/accounts/login/ with:"))
        for spec in DEMO_USERS:
            password = passwords[spec["password_key"]]
            self.stdout.write(f"  {spec['role']:<9} {spec['email']:<24} password: {password}")
        self.stdout.write(f"(kept in {CREDENTIALS_FILE}; set DEMO_*_PASSWORD to choose your own)")
