"""``manage.py migrate`` as the schema's owner, then the application role's privileges.

Django's own command, run with the owner's login when the application has a role of its own
(``MIGRATION_DATABASE_URL``; the embedded server's superuser locally), followed by
``grant_app_role``, so tables a migration adds are granted at once (core.dbroles).
"""

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate

from core.dbroles import RoleSetupError, as_owner, grant_app_role


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Runs as the schema's owner, then grants the application role."

    def handle(self, *args, **options):
        database = options["database"]
        with as_owner(database):
            super().handle(*args, **options)
            if options["plan"] or options["check_unapplied"]:
                return
            try:
                done = grant_app_role(database)
            except RoleSetupError as exc:
                raise CommandError(str(exc)) from exc
        if done and options["verbosity"] >= 1:
            self.stdout.write(
                f"Privileges: {done['app']} reads and writes the rows of "
                f"{done['owner']}'s tables (append-only: "
                f"{', '.join(done['append_only']) or 'none'})."
            )
