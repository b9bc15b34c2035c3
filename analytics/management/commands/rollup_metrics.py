from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from analytics.errors import UnknownMetric
from analytics.rollup import days_between, resolve_families, rollup_day


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be a date as YYYY-MM-DD, got {value!r}.") from None


class Command(BaseCommand):
    help = (
        "Roll up (or re-run) analytics for every day from --from to --to inclusive. "
        "Re-running replaces a day's rows; nothing is ever doubled."
    )

    def add_arguments(self, parser):
        yesterday = (timezone.now().date() - timedelta(days=1)).isoformat()
        parser.add_argument(
            "--from",
            dest="start",
            default=yesterday,
            help="First day, YYYY-MM-DD (default: yesterday, UTC).",
        )
        parser.add_argument(
            "--to", dest="end", default=None, help="Last day, YYYY-MM-DD (default: the --from day)."
        )
        parser.add_argument(
            "--metric",
            action="append",
            dest="metrics",
            default=None,
            help="A metric or family key; repeat for several (default: all).",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Do not draw the progress bar."
        )

    def handle(self, *args, **options):
        start = _parse_date(options["start"], "--from")
        end = _parse_date(options["end"], "--to") if options["end"] else start
        if end < start:
            raise CommandError("--to is before --from.")
        if end > timezone.now().date():
            raise CommandError("--to is in the future: there is nothing to roll up yet.")
        try:
            families = resolve_families(options["metrics"])
        except UnknownMetric as exc:
            raise CommandError(exc.message) from None
        keys = [family.key for family in families]
        rows = 0
        days = days_between(start, end)
        for day in tqdm(days, unit="day", disable=options["no_progress"], file=self.stderr._out):
            rows += rollup_day(day, keys)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rolled up {len(days)} day(s) from {start} to {end}: {rows} row(s), "
                f"families {', '.join(keys)}."
            )
        )
