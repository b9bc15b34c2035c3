"""Fixtures every app's tests share: the four kinds of user, API clients, real services."""

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.factories import (
    TEST_PASSWORD,
    AdminFactory,
    FinanceFactory,
    StaffFactory,
    UserFactory,
)
from config.embedded_log import hold_for_reading
from core.dbroles import act_as_app_role, stop_acting_as_app_role
from credits.invariant import check_invariant
from tests.secret_scan import SecretScanPlugin
from tests.test_failure_redis import celery_broker

_DB_FIXTURES = (
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
)


@pytest.fixture(autouse=True)
def _credits_invariant_holds_after_each_test(request):
    """balance = sum(ledger) = sum(live lots) for every user, after every test of every app.

    Billing, support and analytics all move credits through the credits services; checking
    after each database test (rather than once at the end, when the test database has been
    rolled back) proves none of them breaks the ledger.
    """
    uses_db = request.node.get_closest_marker("django_db") is not None or any(
        name in request.fixturenames for name in _DB_FIXTURES
    )
    if not uses_db:
        yield
        return
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield

    assert check_invariant() == [], "the credits ledger invariant is broken after this test"


@pytest.fixture
def password():
    return TEST_PASSWORD


@pytest.fixture
def customer(db):
    return UserFactory(email="customer@example.com", first_name="Cara", last_name="Customer")


@pytest.fixture
def other_customer(db):
    return UserFactory(email="other@example.com", first_name="Otto", last_name="Other")


@pytest.fixture
def support_agent(db):
    return StaffFactory(email="agent@example.com", first_name="Sam", last_name="Support")


@pytest.fixture
def finance_user(db):
    return FinanceFactory(email="finance@example.com", first_name="Fran", last_name="Finance")


@pytest.fixture
def admin_user(db):
    return AdminFactory(email="admin@example.com", first_name="Ada", last_name="Admin")


@pytest.fixture
def api_client():
    return APIClient()


def _client_for(user):
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def customer_api(customer):
    return _client_for(customer)


@pytest.fixture
def other_customer_api(other_customer):
    return _client_for(other_customer)


@pytest.fixture
def staff_api(support_agent):
    return _client_for(support_agent)


@pytest.fixture
def admin_api(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def admin_client_user(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def memory_broker():
    """The project's Celery app, not eager, on kombu's in-memory transport (a real broker,
    shared by this process's threads); yields its default queue, emptied before and after."""

    with celery_broker("memory://") as app, app.connection_for_write() as conn:
        queue = conn.SimpleQueue("celery")
        queue.clear()
        yield queue
        queue.clear()
        queue.close()


def drain_queue(queue) -> list[tuple]:
    """(task name, task id, args) of every message in a broker queue, consumed."""
    found = []
    while queue.qsize():
        message = queue.get(timeout=1)
        found.append((message.headers["task"], message.headers["id"], message.payload[0]))
        message.ack()
    return found


def _service_or_skip(url: str, name: str) -> str:
    """Return ``url`` if the service answers; else skip, or fail when REQUIRE_SERVICES=1."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1):
            pass
    except OSError as exc:
        message = f"{name} at {url} does not answer ({exc})"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}; REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    return url


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    if not url:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL is not set; REQUIRE_SERVICES=1 requires Redis")
        pytest.skip("REDIS_URL is not set: tests that need Redis are skipped")
    return _service_or_skip(url, "Redis")


# --- secret scan: no card numbers or secrets stored or logged -------------------


def pytest_configure(config):
    """Keep the session's Python log (one file per test database, so parallel runs do not
    share one) and register the end-of-session scan of logs and database. The session holds a
    shared lock on the embedded server's log until it ends, so ``make test`` started beside it
    does not empty the log its scan reads (config.embedded_log)."""

    config._server_log_lock = hold_for_reading()

    if not config.getoption("log_file", default=None):  # None also under -p no:logging
        suffix = os.environ.get("TEST_DB_SUFFIX", "")
        config.option.log_file = str(
            Path(config.rootpath, "artifacts", "test-logs", f"pytest{suffix}.log")
        )
    log_file = Path(config.option.log_file) if config.pluginmanager.has_plugin("logging") else None
    config.pluginmanager.register(SecretScanPlugin(python_log=log_file), "secret-scan")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, pytestconfig):
    """pytest-django's test database, watched by the secret scan from creation to the end.

    It is created and migrated as the schema's owner; the tests then run as the application's
    role, as the web server and workers do (core.dbroles: ``as_owner()`` for the few steps
    that change the schema). The scan reads every table as the owner again."""

    scan = pytestconfig.pluginmanager.get_plugin("secret-scan")
    with django_db_blocker.unblock():
        scan.watch_database(connection)
        act_as_app_role()
    yield
    with django_db_blocker.unblock():
        stop_acting_as_app_role()
        scan.scan_database(connection)
