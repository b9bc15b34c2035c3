"""The outbox: rows live and die with the caller's transaction; publishing, the relay, the
command, pruning and the staff view. The broker is kombu's in-memory transport (a real
broker, in this process); the Redis outage itself is tests/test_failure_redis.py."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from conftest import drain_queue as _drain
from core import outbox
from core.outbox import services
from core.outbox.models import OutboxMessage
from core.outbox.tasks import relay_outbox
from core.schedules import declared_schedules


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_queues_nothing(memory_broker):

    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue("credits.tasks.send_low_balance_email", 1)
        raise RuntimeError("the change failed")

    assert OutboxMessage.objects.count() == 0
    assert _drain(memory_broker) == []


@pytest.mark.django_db(transaction=True)
def test_a_committed_row_is_published_after_the_commit_not_before(memory_broker):

    with transaction.atomic():
        row = outbox.enqueue("credits.tasks.send_low_balance_email", 7)
        assert memory_broker.qsize() == 0  # nothing leaves before the commit

    row.refresh_from_db()
    assert row.published_at is not None and row.attempts == 1 and row.last_error == ""
    assert _drain(memory_broker) == [("credits.tasks.send_low_balance_email", row.task_id, [7])]


@pytest.mark.django_db(transaction=True)
def test_relay_publishes_waiting_rows_oldest_first_and_skips_live_claims(memory_broker):
    now = timezone.now()
    first = OutboxMessage.objects.create(task="credits.tasks.send_low_balance_email", args=[1])
    claimed = OutboxMessage.objects.create(
        task="credits.tasks.send_low_balance_email",
        args=[2],
        claimed_until=now + timedelta(minutes=1),
    )
    expired = OutboxMessage.objects.create(
        task="credits.tasks.send_low_balance_email",
        args=[3],
        claimed_until=now - timedelta(seconds=1),
    )
    OutboxMessage.objects.create(
        task="credits.tasks.send_low_balance_email", args=[4], published_at=now
    )

    assert services.relay() == {"published": 2, "failed": 0, "pending": 1}

    assert [args for _, _, args in _drain(memory_broker)] == [[1], [3]]
    assert OutboxMessage.objects.get(pk=claimed.pk).published_at is None
    assert services.publish(claimed.pk) is False  # someone else holds it
    assert all(OutboxMessage.objects.get(pk=pk).published_at for pk in (first.pk, expired.pk))


@pytest.mark.django_db(transaction=True)
def test_a_row_naming_an_unknown_task_is_kept_with_its_error_and_does_not_block_others(
    memory_broker,
):
    broken = OutboxMessage.objects.create(task="gone.tasks.renamed", args=[])
    fine = OutboxMessage.objects.create(task="credits.tasks.send_low_balance_email", args=[5])

    with pytest.raises(CommandError, match="1 still waiting"):
        call_command("relay_outbox")

    broken.refresh_from_db()
    assert broken.published_at is None and broken.attempts == 1
    assert broken.last_error.startswith("UnknownTask")
    assert OutboxMessage.objects.get(pk=fine.pk).published_at is not None
    assert [args for _, _, args in _drain(memory_broker)] == [[5]]


@pytest.mark.django_db(transaction=True)
def test_relay_command_reports_what_it_published(memory_broker, capsys):
    for n in range(3):
        OutboxMessage.objects.create(task="credits.tasks.send_low_balance_email", args=[n])

    call_command("relay_outbox", "--batch", "2")

    assert "Published 3 task(s); 0 still waiting." in capsys.readouterr().out
    assert len(_drain(memory_broker)) == 3


@pytest.mark.django_db
def test_relay_command_refuses_a_batch_below_one():
    with pytest.raises(CommandError, match="--batch"):
        call_command("relay_outbox", "--batch", "0")


@pytest.mark.django_db
def test_prune_deletes_only_rows_published_more_than_a_week_ago():
    now = timezone.now()
    old = OutboxMessage.objects.create(task="t", published_at=now - timedelta(days=8))
    recent = OutboxMessage.objects.create(task="t", published_at=now - timedelta(days=6))
    waiting = OutboxMessage.objects.create(task="t", created_at=now - timedelta(days=30))

    assert services.prune(now=now) == 1

    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_eager_settings_run_the_task_inline_on_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = outbox.enqueue("config.outbox.tasks.relay_outbox")

    row.refresh_from_db()
    assert row.published_at is not None and row.attempts == 1


def test_relay_and_prune_are_scheduled():
    entries = {entry["name"]: entry for entry in declared_schedules()}
    assert entries["outbox.relay"]["task"] == relay_outbox.name
    assert entries["outbox.relay"]["interval_seconds"] == 30
    assert entries["outbox.prune"]["task"] == "config.outbox.tasks.prune_outbox"


@pytest.mark.django_db
def test_staff_see_waiting_rows_first_and_cannot_change_them(admin_client_user):
    now = timezone.now()
    done = OutboxMessage.objects.create(
        task="credits.tasks.send_low_balance_email", published_at=now
    )
    stuck = OutboxMessage.objects.create(
        task="billing.tasks.process_webhook_event",
        last_error="OperationalError: Connection refused",
    )

    page = admin_client_user.get("/admin/outbox/outboxmessage/")
    waiting = admin_client_user.get("/admin/outbox/outboxmessage/?published=no")
    detail = admin_client_user.get(f"/admin/outbox/outboxmessage/{stuck.pk}/change/")

    assert page.status_code == 200
    assert [row.pk for row in page.context["cl"].result_list] == [stuck.pk, done.pk]
    assert [row.pk for row in waiting.context["cl"].result_list] == [stuck.pk]
    assert "Connection refused" in waiting.content.decode()
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert admin_client_user.get("/admin/outbox/outboxmessage/add/").status_code == 403
    assert (
        admin_client_user.post(
            f"/admin/outbox/outboxmessage/{stuck.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert OutboxMessage.objects.filter(pk=stuck.pk).exists()
