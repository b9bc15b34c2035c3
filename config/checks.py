"""Checks Django's own do not make: every task the code queues by name exists (at every start:
``runserver``, ``migrate``, ``check``), and the deployment's (``manage.py check --deploy``)."""

import ast
from collections.abc import Iterable
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import Error, Tags, register
from django.utils.module_loading import autodiscover_modules

from config.celery import app as celery_app

SKIPPED_DIRS = {"tests", "migrations", "node_modules", "static", "templates"}


def project_sources() -> Iterable[Path]:
    root = Path(settings.BASE_DIR).resolve()
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if root not in path.parents or "site-packages" in path.parts:
            continue  # a third-party app (a virtualenv may sit inside the project folder)
        for source in path.rglob("*.py"):
            if not SKIPPED_DIRS.intersection(source.relative_to(path).parts):
                yield source


def queued_task_names(sources: Iterable[Path]) -> dict[str, str]:
    """Every task name passed as a string to ``enqueue(...)`` in ``sources``, with where."""
    found: dict[str, str] = {}
    for source in sources:
        text = source.read_text()
        if "enqueue" not in text:
            continue  # parsing is this check's cost at every start: only files that may queue
        for node in ast.walk(ast.parse(text, str(source))):
            if (
                isinstance(node, ast.Call)
                and node.args
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "enqueue"
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, f"{source}:{node.lineno}")
    return found


@register()
def queued_tasks_are_registered(app_configs, sources: Iterable[Path] | None = None, **kwargs):
    """Work is queued through the outbox by task name; a name Celery does not know would fail
    only when the code runs, so every name the code queues is looked up at start-up."""
    autodiscover_modules("tasks")  # every installed app's tasks module, as the worker loads
    names = queued_task_names(project_sources() if sources is None else sources)
    return [
        Error(
            f"{where} queues {name!r}, which is not a registered Celery task.",
            hint="Use the task's name= (its module path and function name), or register it.",
            id="config.E002",
        )
        for name, where in sorted(names.items())
        if name not in celery_app.tasks
    ]


@register(Tags.staticfiles, deploy=True)
def static_manifest_exists(app_configs, **kwargs) -> list[Error]:
    """With a manifest storage (production's), every ``{% static %}`` looks its file up in the
    manifest that collectstatic writes; without it each page answers 500, so refuse to pass
    the deployment check instead."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    if staticfiles_storage.exists(staticfiles_storage.manifest_name):
        return []
    where = getattr(staticfiles_storage, "location", "STATIC_ROOT")
    return [
        Error(
            f"The static files manifest {staticfiles_storage.manifest_name} is missing from "
            f"{where}: "
            "collectstatic has not been run for this release, and every page would fail.",
            hint="Run `python manage.py collectstatic --noinput` with these settings "
            "(STATIC_ROOT decides where it writes).",
            id="config.E001",
        )
    ]
