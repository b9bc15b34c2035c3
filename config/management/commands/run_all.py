"""``manage.py run_all``: the web server, a Celery worker and Celery beat together; Ctrl-C
stops all three (config.launcher, which `make run` starts without this command's Django)."""

from django.core.management.base import BaseCommand, CommandError

from config.launcher import Launcher, LaunchError


class Command(BaseCommand):
    help = "Run the web server (127.0.0.1:8000), a Celery worker and beat; Ctrl-C stops all."
    # The web server it starts runs the checks.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, host, port, concurrency, **options):
        launcher = Launcher(
            host=host,
            port=port,
            concurrency=concurrency,
            say=lambda message: self.stdout.write(
                self.style.SUCCESS(message) if "runs at" in message else message
            ),
            warn=self.stderr.write,
        )
        try:
            launcher.run()
        except LaunchError as exc:
            raise CommandError(str(exc)) from None
