import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from config import health
from config.celery import app
from core.dbroles import as_owner


@pytest.mark.django_db
def test_healthz_reports_every_check_ok(client):
    response = client.get("/healthz/")

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "migrations": "ok"},
    }


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_is_unreachable(client):

    # A port nothing listens on: the broker check must fail, and the page must say which.
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        app.conf.broker_url = "redis://127.0.0.1:1/0"
        try:
            response = client.get("/healthz/")
        finally:
            app.conf.broker_url = "memory://"

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")


@pytest.mark.django_db
def test_healthz_reaches_real_redis_broker(client, redis_url):

    app.conf.broker_url = redis_url
    try:
        response = client.get("/healthz/")
    finally:
        app.conf.broker_url = "memory://"

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


def test_healthz_refuses_post(client):
    assert client.post("/healthz/").status_code == 405


@pytest.mark.django_db
def test_healthz_reports_a_migration_that_is_not_applied(client, monkeypatch):
    """The recorder forgets one applied migration (inside the test's transaction): the check
    names it until it is applied again; an ok answer is then kept for the process."""

    monkeypatch.setattr(health, "_migrations_applied", False)
    with as_owner():  # only the owner writes django_migrations (core.dbroles)
        MigrationRecorder.Migration.objects.filter(app="credits").order_by("-id").first().delete()

    response = client.get("/healthz/")

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "error: 1 migration(s) not applied"
    assert health._migrations_applied is False
