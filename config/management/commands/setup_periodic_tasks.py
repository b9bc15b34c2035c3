from django.core.management.base import BaseCommand

from core.schedules import sync_periodic_tasks


class Command(BaseCommand):
    help = "Load every app's periodic tasks (schedules.py) into django-celery-beat."

    def handle(self, *args, **options):
        created, updated = sync_periodic_tasks()
        self.stdout.write(f"Periodic tasks: {created} created, {updated} updated.")
