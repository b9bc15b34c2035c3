"""`manage.py sync_stripe`: pull/push the catalog and reconcile with Stripe, with progress."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from billing.stripe import client as stripe_client
from billing.stripe import reconciliation, sync


class Command(BaseCommand):
    help = "Sync catalog products/prices with Stripe and reconcile events and subscriptions."

    def add_arguments(self, parser):
        parser.add_argument("--catalog-only", action="store_true")
        parser.add_argument("--reconcile-only", action="store_true")

    def handle(self, *args, **options):
        if not stripe_client.is_configured():
            raise CommandError("Stripe is not configured (no STRIPE_SECRET_KEY).")

        def progress(items, desc=""):
            return tqdm(items, desc=desc, file=self.stderr, disable=None)

        report = sync.SyncReport()
        if not options["reconcile_only"]:
            sync.pull_catalog(progress=progress, report=report)
            sync.push_products(progress=progress, report=report)
        if not options["catalog_only"]:
            reconciliation.enqueue_missing_events(progress=progress, report=report)
            reconciliation.check_drift(progress=progress, report=report)
        for line in report.errors:
            self.stderr.write(line)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in report.as_dict().items()))
