"""/ops/: the operations page, for the ADMIN role only (the staff policy's system.ops.view)."""

import time

import pytest
from django.core.cache import cache
from django.test import Client

from accounts import authority
from accounts.factories import AdminFactory, FinanceFactory, StaffFactory, UserFactory
from billing.factories import WebhookEventFactory
from config.ops import heartbeat
from core.outbox.models import OutboxMessage
from credits.invariant import record_invariant_check


@pytest.fixture(autouse=True)
def _no_backups_yet(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    cache.clear()
    yield
    cache.clear()


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_only_admin_may_see_the_operations_page():
    assert authority.POLICY["system.ops.view"].roles == {"ADMIN"}


@pytest.mark.django_db
def test_admin_sees_queues_workers_backlogs_checks_and_limits():
    OutboxMessage.objects.create(task="credits.tasks.send_low_balance_email", args=[1])
    WebhookEventFactory(status="failed")
    heartbeat.write_heartbeat(hostname="celery@web-1", queues=["celery"], now=time.time())
    record_invariant_check()

    response = _browser(AdminFactory()).get("/ops/")

    assert response.status_code == 200
    page = response.content.decode()
    for heading in (
        "Health",
        "Celery queues",
        "Workers",
        "Task outbox",
        "Stripe webhook events",
        "Schedules (beat)",
        "Credits ledger check",
        "Backups",
        "Rate limits",
    ):
        assert f"<h2>{heading}</h2>" in page, heading
    assert "celery@web-1" in page and "alive" in page
    assert "1 task not yet published" in page
    assert "balance = ledger = lots for every user" in page
    assert "No backup manifest" in page
    assert "api:credits-consume" in page  # the scope table names its routes


@pytest.mark.django_db
@pytest.mark.parametrize("factory", [StaffFactory, FinanceFactory], ids=["support", "finance"])
def test_other_staff_roles_are_refused(factory):
    response = _browser(factory()).get("/ops/")
    assert response.status_code == 403
    assert b"Celery queues" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["customer", "anonymous"])
def test_customers_and_strangers_are_sent_to_the_staff_login(who):
    client = _browser(UserFactory()) if who == "customer" else Client()
    response = client.get("/ops/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/ops/")
