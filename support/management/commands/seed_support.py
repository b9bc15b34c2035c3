"""Help-centre articles and demo tickets in every status. Safe to run again.

Articles are upserted by slug. Demo tickets carry ``metadata["seed"]`` and are created only
when missing, through the same services the product uses (state machine, audit log).
Customers and the agent are taken by e-mail (--customer-email, --staff-email); when none of
the given users exist, demo users are created with unusable passwords (no one can sign in as
them until an admin sets a password).
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import STAFF_ROLES, Role, User
from support import services
from support.models import Article, ArticleStatus, Ticket, TicketStatus
from support.seed_data import ARTICLES

S = TicketStatus
# (seed key, subject, priority, customer's message, [(who, body)...], status path)
DEMO_TICKETS = [
    (
        "open",
        "Charged twice for my March renewal",
        "HIGH",
        "My card statement shows two charges of the same amount on 1 March.",
        [("customer", "Both charges are still on my statement today.")],
        [],
    ),
    (
        "in-progress",
        "Credits missing after buying a pack",
        "MEDIUM",
        "I bought the 500 credit pack this morning but my balance did not change.",
        [
            ("note", "Order completed in Stripe; checking the grant task."),
            ("staff", "Thanks, we can see the order and are looking into the missing credits."),
        ],
        [S.IN_PROGRESS],
    ),
    (
        "waiting",
        "Invoice needs our VAT number",
        "LOW",
        "Could you add our VAT number to last month's invoice?",
        [("staff", "Of course: which VAT number should appear on the invoice?")],
        [S.IN_PROGRESS, S.WAITING_ON_CUSTOMER],
    ),
    (
        "resolved",
        "How do I revoke an API key?",
        "LOW",
        "One of our API keys was pasted in a chat by mistake.",
        [
            (
                "staff",
                "Open API keys in your account (/account/api-keys/) and choose Revoke next "
                "to the key: it stops working immediately. Then create a new one for your "
                "integration.",
            ),
            ("customer", "Done, thanks!"),
        ],
        [S.IN_PROGRESS, S.RESOLVED],
    ),
    (
        "closed",
        "Cancel my subscription at the end of the month",
        "MEDIUM",
        "Please make sure I am not charged again.",
        [
            (
                "staff",
                "Your subscription is set to cancel at the end of the current period; you "
                "will not be charged again.",
            )
        ],
        [S.IN_PROGRESS, S.RESOLVED, S.CLOSED],
    ),
]


class Command(BaseCommand):
    help = "Seed help-centre articles and demo support tickets (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--customer-email",
            action="append",
            dest="customer_emails",
            help="Existing customer(s) to own the demo tickets (repeatable).",
        )
        parser.add_argument(
            "--staff-email",
            default="support@demo.example",
            help="Existing SUPPORT/ADMIN user who answers the demo tickets.",
        )
        parser.add_argument("--articles-only", action="store_true")

    def handle(self, *args, **options):
        created, updated = self._articles()
        self.stdout.write(f"Help articles: {created} created, {updated} updated.")
        # Semantic vectors for the articles (changed ones only; says so and skips without
        # pgvector or the model).
        call_command(
            "embed_articles", verbosity=options["verbosity"], stdout=self.stdout, stderr=self.stderr
        )
        if options["articles_only"]:
            return
        customer = self._customer(
            options["customer_emails"] or ["alice@demo.example", "bob@demo.example"]
        )
        agent = self._agent(options["staff_email"])
        made = sum(self._ticket(spec, customer, agent) for spec in DEMO_TICKETS)
        self.stdout.write(
            f"Demo tickets: {made} created for {customer.email}, answered by {agent.email}."
        )

    @transaction.atomic
    def _articles(self) -> tuple[int, int]:
        created = updated = 0
        now = timezone.now()
        for spec in ARTICLES:
            fields = {k: v for k, v in spec.items() if k != "slug"}
            article, was_created = Article.objects.get_or_create(
                slug=spec["slug"],
                defaults={**fields, "status": ArticleStatus.PUBLISHED, "published_at": now},
            )
            if was_created:
                created += 1
                continue
            changed = [k for k, v in fields.items() if getattr(article, k) != v]
            if changed:
                for k in changed:
                    setattr(article, k, fields[k])
                article.save()
                updated += 1
        return created, updated

    def _customer(self, emails) -> User:
        for email in emails:
            user = User.objects.filter(email=email.strip().lower()).first()
            if user is not None:
                return user
        return self._demo_user("customer@support-demo.example", Role.CUSTOMER, "Casey")

    def _agent(self, email) -> User:
        user = User.objects.filter(
            email=(email or "").strip().lower(), role__in=STAFF_ROLES
        ).first()
        return user or self._demo_user("agent@support-demo.example", Role.SUPPORT, "Alex")

    def _demo_user(self, email, role, first_name) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email, password=None, role=role, first_name=first_name, last_name="Demo"
            )
            self.stdout.write(f"Created {email} ({role}) with an unusable password.")
        return user

    def _ticket(self, spec, customer, agent) -> bool:
        key, subject, priority, description, thread, path = spec
        seed = f"support-demo-{key}"
        if Ticket.objects.filter(metadata__seed=seed).exists():
            return False
        with transaction.atomic():
            ticket = services.open_ticket(
                customer=customer,
                subject=subject,
                description=description,
                priority=priority,
                # Staff set URGENT, and HIGH for a customer whose plan lacks priority support.
                actor=agent if priority in ("URGENT", "HIGH") else customer,
                metadata={"seed": seed},
            )
            for who, body in thread:
                if who == "note":
                    services.add_internal_note(ticket=ticket, author=agent, body=body)
                else:
                    services.reply(
                        ticket=ticket, author=agent if who == "staff" else customer, body=body
                    )
            for status in path:
                services.change_status(ticket=ticket, status=status, actor=agent)
        return True
