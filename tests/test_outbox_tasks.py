"""The apps' work queued through the outbox (core.outbox): it is queued by task name, every
name the code queues is a task Celery has registered, and an e-mail task runs once per
message."""

import pytest
from django.core import mail
from django.db import transaction

from config.checks import project_sources, queued_task_names, queued_tasks_are_registered
from core import outbox
from core.outbox.models import OutboxMessage
from core.outbox.services import UnknownTask
from credits.tasks import send_low_balance_email


def test_every_queued_name_is_a_registered_task_at_start_up():
    assert "credits.tasks.send_low_balance_email" in queued_task_names(project_sources())
    assert queued_tasks_are_registered(None) == []


def test_a_name_no_task_has_fails_the_start_up_check(tmp_path):
    module = tmp_path / "late.py"
    module.write_text(
        'from core import outbox\n\noutbox.enqueue("credits.tasks.no_such_task", 1)\n'
    )
    [error] = queued_tasks_are_registered(None, sources=[module])
    assert error.id == "config.E002"
    assert "credits.tasks.no_such_task" in error.msg


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
