"""The apps' work queued through the outbox (core.outbox): it is queued by task name, every
name the code queues is a task Celery has registered, and an e-mail task runs once per
message."""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction

from config.celery import app
from core import outbox
from core.outbox.models import OutboxMessage
from core.outbox.services import UnknownTask
from credits.tasks import send_low_balance_email

ROOT = Path(settings.BASE_DIR)


def _queued_names() -> dict[str, str]:
    """Every string literal passed as the first argument of an ``enqueue(...)`` call in the
    project's code outside tests, with where it was found."""
    found = {}
    for path in ROOT.rglob("*.py"):
        if any(part in {".venv", ".data", "node_modules", "tests"} for part in path.parts):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and node.args
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "enqueue"
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found[node.args[0].value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


@pytest.mark.django_db  # loading every app's tasks runs Celery's Django fix-up, which closes
# the connection
def test_every_queued_name_is_a_registered_task():
    app.loader.import_default_modules()
    names = _queued_names()
    assert "credits.tasks.send_low_balance_email" in names
    unknown = {name: where for name, where in names.items() if name not in app.tasks}
    assert unknown == {}


@pytest.mark.django_db
def test_an_unknown_name_is_refused_where_it_is_queued_and_nothing_is_written():
    with pytest.raises(UnknownTask), transaction.atomic():
        outbox.enqueue("credits.tasks.no_such_task", 1)
    assert not OutboxMessage.objects.filter(task="credits.tasks.no_such_task").exists()


@pytest.mark.django_db
def test_a_task_object_is_refused():

    with pytest.raises(TypeError):
        outbox.enqueue(send_low_balance_email, 1)


@pytest.mark.django_db(transaction=True)
def test_an_email_task_runs_once_per_message_even_when_the_message_comes_twice(customer):
    """Eager Celery (test settings) runs the task on commit with the row's task id; a second
    delivery of the same message (as after a lost worker) sends nothing, while a call that
    does not come from the outbox still sends."""

    mail.outbox.clear()
    with transaction.atomic():
        row = outbox.enqueue("credits.tasks.send_low_balance_email", customer.pk)
    row.refresh_from_db()
    assert row.completed_at is not None and len(mail.outbox) == 1

    again = send_low_balance_email.apply(args=[customer.pk], task_id=row.task_id)

    assert again.result is None and len(mail.outbox) == 1
    assert send_low_balance_email.apply(args=[customer.pk]).result is True
    assert len(mail.outbox) == 2
