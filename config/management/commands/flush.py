"""``manage.py flush`` as the schema's owner: it empties tables with TRUNCATE, which the
application's role may not run (core.dbroles). Django's test cases flush the test database
through this command after each transactional test."""

from django.core.management.commands.flush import Command as DjangoFlush

from core.dbroles import as_owner


class Command(DjangoFlush):
    def handle(self, **options):
        with as_owner(options["database"]):
            super().handle(**options)
