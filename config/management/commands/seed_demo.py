"""Demo data for `make run`: every app's registered seed step, in order. Safe to run again.

The demo users come first (accounts' step), then each app's own demo data (its step,
registered in its AppConfig.ready(): accounts.seed_steps), then the periodic tasks.

Passwords are taken from options or the environment (DEMO_ADMIN_PASSWORD,
DEMO_CUSTOMER_PASSWORD, DEMO_SUPPORT_PASSWORD, DEMO_FINANCE_PASSWORD), or generated once and
kept in .data/demo-credentials.json (readable only by you), so they are never fixed in code
and the same ones are printed on every run.
"""

import json
import os
import secrets

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts import seed_steps
from accounts.demo import DEMO_USERS, PASSWORD_KEYS
from config.paths import DATA_DIR

CREDENTIALS_FILE = DATA_DIR / "demo-credentials.json"
# The step every other step builds on; --skip-apps runs only this one.
USERS_STEP = "accounts"


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
        parser.add_argument(
            "--skip-apps", action="store_true", help="Only the users; skip each app's seed step."
        )

    def handle(self, *args, **options):
        passwords = self._passwords(options)
        context = seed_steps.SeedContext(
            stdout=self.stdout, stderr=self.stderr, passwords=passwords
        )
        for step in seed_steps.steps():
            if options["skip_apps"] and step.name != USERS_STEP:
                continue
            step.fn(context)
        call_command("setup_periodic_tasks", stdout=self.stdout)
        self._print_summary(passwords)

    def _passwords(self, options) -> dict:
        stored = _stored_credentials()
        resolved = {}
        for key in PASSWORD_KEYS:
            resolved[key] = (
                options.get(f"{key}_password")
                or os.environ.get(f"DEMO_{key.upper()}_PASSWORD")
                or stored.get(key)
                or secrets.token_urlsafe(12)
            )
        if resolved != stored:
            _save_credentials(resolved)
        return resolved

    def _print_summary(self, passwords: dict) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo data is ready. Log in at {settings.SITE_URL}/accounts/login/ with:"
            )
        )
        for spec in DEMO_USERS:
            password = passwords[spec["password_key"]]
            self.stdout.write(f"  {spec['role']:<9} {spec['email']:<24} password: {password}")
        self.stdout.write(f"(kept in {CREDENTIALS_FILE}; set DEMO_*_PASSWORD to choose your own)")
