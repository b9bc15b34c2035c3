"""The Celery app. Tasks live in each app's tasks.py; schedules in django-celery-beat."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging, worker_ready
from django.conf import settings

from config import logs
from config.ops.heartbeat import HeartbeatStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("billing")
# The app of every thread (the outbox's publisher thread too): core.outbox reaches it as
# celery.current_app, without importing config.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every worker writes a heartbeat to the cache for /metrics and /ops/ (config.ops.heartbeat).
app.steps["worker"].add(HeartbeatStep)
# Task lines carry their task id and the id of the request that queued them (config.logs).
logs.connect_celery_signals()


@setup_logging.connect
def use_django_logging(loglevel=None, **kwargs):
    """Workers and beat log through settings.LOGGING (JSON lines in production) instead of
    Celery's own format, so every process of the product writes the same kind of line;
    ``--loglevel`` still sets the level."""

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@worker_ready.connect
def relay_outbox_on_start(sender, **kwargs):
    """A worker that starts after a broker outage publishes what the outbox holds at once,
    without waiting for beat (core.outbox)."""
    sender.app.send_task("config.outbox.tasks.relay_outbox")
