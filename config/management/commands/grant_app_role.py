"""Give the application's database role exactly its privileges (``migrate`` runs this too)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from core.dbroles import RoleSetupError, grant_app_role


class Command(BaseCommand):
    help = (
        "As the schema's owner, grant the application's role (DATABASE_URL's user) row "
        "access to every table and sequence, only SELECT and INSERT on the append-only "
        "ones, and the same on tables created later; check it has no more. Safe to rerun."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database, **options):
        try:
            done = grant_app_role(database)
        except RoleSetupError as exc:
            raise CommandError(str(exc)) from exc
        if done is None:
            self.stdout.write(
                "One role owns the schema and runs the application "
                "(no MIGRATION_DATABASE_URL): nothing to grant."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{done['app']}: rows of every table owned by {done['owner']}; SELECT and INSERT "
                f"only on {', '.join(done['append_only']) or 'no append-only table'}; "
                f"SELECT only on {', '.join(done['read_only']) or 'nothing else'}."
            )
        )
