"""With REPLICA_DATABASE_URL, the analytics rollups are read from the replica; every other
read and every write stays on the primary (config.routers)."""

from datetime import date

import pytest
from django.conf import settings
from django.db import router

from accounts.models import User
from analytics import selectors
from analytics.models import DailyMetric, Dashboard
from config.env import replica_database_settings
from config.routers import AnalyticsReplicaRouter


@pytest.fixture
def replica(monkeypatch):
    # The entry only has to exist: nothing here runs a query on it.
    monkeypatch.setitem(settings.DATABASES, "replica", {**settings.DATABASES["default"]})


def test_without_a_replica_everything_uses_the_primary():
    assert router.db_for_read(DailyMetric) == "default"
    assert selectors.metric_rows("mrr", *_days()).db == "default"


def test_analytics_reads_go_to_the_replica_and_nothing_else_does(replica):
    assert selectors.metric_rows("mrr", *_days()).db == "replica"
    assert Dashboard.objects.all().db == "replica"
    assert router.db_for_write(DailyMetric) == "default"
    assert DailyMetric.objects.select_for_update().db == "default"
    assert router.db_for_read(User) == "default"
    assert AnalyticsReplicaRouter().allow_migrate("replica", "analytics") is False
    assert AnalyticsReplicaRouter().allow_migrate("default", "analytics") is None


def test_the_replica_url_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("REPLICA_DATABASE_URL", raising=False)
    assert replica_database_settings() is None
    monkeypatch.setenv(
        "REPLICA_DATABASE_URL", "postgresql://billing_app:p@replica.internal/billing"
    )
    config = replica_database_settings()
    assert (config["HOST"], config["USER"], config["NAME"]) == (
        "replica.internal",
        "billing_app",
        "billing",
    )


def _days():
    return date(2026, 1, 1), date(2026, 1, 31)
