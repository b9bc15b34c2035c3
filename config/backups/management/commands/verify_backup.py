from django.core.management.base import BaseCommand, CommandError

from config.backups import services
from config.backups.pgtools import BackupError
from config.backups.progress import ConsoleProgress


class Command(BaseCommand):
    help = (
        "Restore the newest backup (or --from) into a scratch database, check it against "
        "its manifest and the credits ledger invariant, drop the scratch database; exits "
        "non-zero on any mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="source",
            metavar="FILE",
            help="a backup's .dump or .manifest.json file, or a backup name in "
            "the backup storage (default: the newest there)",
        )

    def handle(self, *args, source=None, **options):
        progress = ConsoleProgress(self.stdout, self.stderr)
        try:
            result = services.verify_backup(spec=source, progress=progress)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if not result.ok:
            raise CommandError(
                f"Backup {result.name} FAILED verification:\n  " + "\n  ".join(result.problems)
            )
        self.stdout.write(self.style.SUCCESS(f"Backup {result.name} verified."))
