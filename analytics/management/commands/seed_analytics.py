from datetime import timedelta

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.utils import timezone

from analytics import demo


class Command(BaseCommand):
    help = (
        "Twelve months of demo history (customers, subscriptions, renewals, refunds, "
        "credit usage, tickets, bot chats), then the rollups for those months. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-rollup",
            action="store_true",
            help="Create the history only; do not backfill the rollups.",
        )

    def handle(self, *args, **options):
        if demo.already_seeded():
            self.stdout.write("analytics: demo history already present; nothing added.")
            return
        if not demo.paid_plans() and "seed_catalog" in get_commands():
            call_command("seed_catalog", stdout=self.stdout)
        stats = demo.seed()
        self.stdout.write(
            f"analytics: {stats.customers} customers, {stats.subscriptions} subscriptions "
            f"({stats.plan_changes} plan changes), "
            f"{stats.payments} payments, {stats.refunds} refunds, {stats.ledger_rows} ledger "
            f"rows, {stats.tickets} tickets, {stats.conversations} bot conversations."
        )
        for note in stats.notes:
            self.stdout.write(self.style.WARNING(f"analytics: {note}"))
        if options["no_rollup"]:
            return
        yesterday = timezone.now().date() - timedelta(days=1)
        start = yesterday - timedelta(days=demo.DAYS)
        call_command(
            "rollup_metrics",
            "--from",
            start.isoformat(),
            "--to",
            yesterday.isoformat(),
            stdout=self.stdout,
            stderr=self.stderr,
        )
