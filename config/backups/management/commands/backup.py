from django.core.management.base import BaseCommand, CommandError

from config.backups import services
from config.backups.pgtools import BackupError, Database
from config.backups.progress import ConsoleProgress


class Command(BaseCommand):
    help = (
        "Back up the database: a compressed pg_dump custom-format dump and its manifest "
        "(migrations, money tables' row counts, sha256) into BACKUP_DIR or "
        "BACKUP_STORAGE_URL, then apply the retention rules (BACKUP_KEEP_DAILY, "
        "BACKUP_KEEP_WEEKLY)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--database-url", metavar="URL", help="back up this database instead of the default one"
        )
        parser.add_argument(
            "--no-prune", action="store_true", help="keep every older backup this time"
        )

    def handle(self, *args, database_url=None, no_prune=False, **options):
        progress = ConsoleProgress(self.stdout, self.stderr)
        try:
            source = (
                Database.from_url(database_url, what="--database-url") if database_url else None
            )
            manifest = services.create_backup(source=source, progress=progress, prune=not no_prune)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Backup {manifest['name']} written."))
