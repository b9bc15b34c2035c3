"""The Celery app. Tasks live in each app's tasks.py; schedules in django-celery-beat."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("billing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def relay_outbox_on_start(sender, **kwargs):
    """A worker that starts after a broker outage publishes what the outbox holds at once,
    without waiting for beat (config.outbox)."""
    sender.app.send_task("config.outbox.tasks.relay_outbox")
