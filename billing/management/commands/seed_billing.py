"""Demo subscriptions for `make run` (called by seed_demo after seed_catalog). Safe to rerun.

alice: Business (billed by invoice), first invoice paid; bob: Free. Through the services, so
credits, invoices and timelines are what a real customer would have.
"""

from django.core.management.base import BaseCommand

from accounts.models import User
from billing.models import InvoiceStatus, TaxRate
from billing.services import invoices
from billing.services.subscriptions import lifecycle as subscriptions
from catalog.models import Plan


class Command(BaseCommand):
    help = "Seed demo subscriptions (needs the demo users and the catalog's plans)."

    def add_arguments(self, parser):
        parser.add_argument("--paid-email", default="alice@demo.example")
        parser.add_argument("--free-email", default="bob@demo.example")
        parser.add_argument("--paid-plan", default="business")
        parser.add_argument("--free-plan", default="free")

    def handle(self, *args, **options):
        # The seller's own country's rate (billing.seller_country defaults to GB): the one
        # rate orders and subscriptions of customers without another country pay.
        TaxRate.objects.get_or_create(country="GB", defaults={"name": "VAT", "rate": "0.2000"})
        admin = User.objects.filter(role="ADMIN").order_by("id").first()
        for email, slug, pay in (
            (options["paid_email"], options["paid_plan"], True),
            (options["free_email"], options["free_plan"], False),
        ):
            user = User.objects.filter(email=email).first()
            if user is None or not Plan.objects.filter(slug=slug, active=True).exists():
                self.stdout.write(f"skip {email}: user or plan {slug!r} missing")
                continue
            if subscriptions.live_subscription(user=user) is not None:
                self.stdout.write(f"{email} already subscribed")
                continue
            result = subscriptions.subscribe(user=user, plan=slug, interval="month")
            invoice = result.invoice
            if pay and invoice is not None and invoice.status == InvoiceStatus.OPEN:
                invoices.mark_invoice_paid(
                    invoice_id=invoice.pk, actor=admin, reference="DEMO-TRANSFER"
                )
            self.stdout.write(f"{email} subscribed to {slug} ({result.subscription.status})")
