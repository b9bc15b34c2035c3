from django.core.management.base import BaseCommand, CommandError

from config.backups import services
from config.backups.pgtools import BackupError, Database
from config.backups.progress import ConsoleProgress


class Command(BaseCommand):
    help = (
        "Restore a backup into a database: checks the dump's sha256 against its manifest "
        "first, creates the database when it does not exist, refuses one that holds tables "
        "unless --force, then compares migrations and money tables' row counts with the "
        "manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="source",
            required=True,
            metavar="FILE",
            help="a backup's .dump or .manifest.json file, or a backup name in the backup storage",
        )
        parser.add_argument(
            "--into",
            required=True,
            metavar="DATABASE_URL",
            help="postgresql://user:password@host:5432/name (created if missing)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore into a database that is not empty, replacing the "
            "objects the backup holds",
        )
        parser.add_argument(
            "--no-owner",
            action="store_true",
            help="the --into user owns every object (a server without the original roles)",
        )
        parser.add_argument(
            "--no-privileges",
            action="store_true",
            help="restore no grants (then run manage.py grant_app_role)",
        )

    def handle(
        self, *args, source, into, force=False, no_owner=False, no_privileges=False, **options
    ):
        progress = ConsoleProgress(self.stdout, self.stderr)
        try:
            target = Database.from_url(into, what="--into")
            backup = services.locate(source)
            services.restore_backup(
                backup=backup,
                into=target,
                force=force,
                keep_owners=not no_owner,
                keep_privileges=not no_privileges,
                progress=progress,
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {backup.name} into {target.shown}."))
