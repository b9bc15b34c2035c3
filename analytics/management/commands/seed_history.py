from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics import seed_history


class Command(BaseCommand):
    help = (
        "Years of realistic history for existing customers, written with COPY: credit "
        "ledger rows with their lots, orders, invoices, payments, webhook events, audit "
        "rows, tickets and help-bot chats (README, Large history). Adds to what is there."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rows",
            type=int,
            required=True,
            help="Credit ledger rows to write (the rest scales with them).",
        )
        parser.add_argument(
            "--customers",
            type=int,
            default=seed_history.DEFAULT_CUSTOMERS,
            help="How many customers (the first by id) share the history; "
            f"the first takes {seed_history.HEAVY_SHARE:.0%} of it. "
            f"Default {seed_history.DEFAULT_CUSTOMERS}.",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=seed_history.DEFAULT_DAYS,
            help="The history covers this many days up to now "
            f"(default {seed_history.DEFAULT_DAYS}).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=seed_history.SEED,
            help="Random seed (fixed by default, so runs are alike).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        bar = tqdm(
            total=options["rows"],
            unit=" rows",
            unit_scale=True,
            desc="ledger",
            disable=options["no_progress"] or None,
            file=self.stderr._out,
        )
        try:
            stats = seed_history.seed_history(
                rows=options["rows"],
                customers=options["customers"],
                days=options["days"],
                seed=options["seed"],
                progress=bar.update,
            )
        except seed_history.SeedError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        written = ", ".join(f"{table} {count:,}" for table, count in stats.rows.items())
        self.stdout.write(
            f"seed_history: {stats.ledger_rows:,} ledger rows for {stats.customers} "
            f"customers ({stats.heavy_email} takes about "
            f"{seed_history.HEAVY_SHARE:.0%}) in {stats.seconds:.1f} s. Rows: {written}."
        )
        seed_history.analyze(stats)
