from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.outbox import services


class Command(BaseCommand):
    help = (
        "Publish every task still waiting in the outbox (e.g. after a broker outage). "
        "Beat does this every 30 s and each worker at start; this is for operators."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch",
            type=int,
            default=services.RELAY_BATCH,
            help="Rows claimed per round (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        published = 0
        while True:
            result = services.relay(limit=options["batch"])
            published += result["published"]
            if result["failed"] or not result["published"]:
                break
        message = f"Published {published} task(s); {result['pending']} still waiting."
        if result["failed"]:
            raise CommandError(
                f"{message} Some could not be published (broker down or an "
                "unknown task): see last_error in the admin (Task outbox)."
            )
        self.stdout.write(self.style.SUCCESS(message))
