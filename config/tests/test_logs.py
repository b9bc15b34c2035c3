"""JSON log lines: one object per line with the request id, the user id and the task id, and no
secret in them (the audit log's redaction rule).

Secrets are only ever put in records formatted here directly, never sent through logging:
the session's own log is scanned for them at the end (conftest.py).
"""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import shared_task
from celery.signals import before_task_publish
from cryptography.fernet import Fernet
from django.http import HttpResponse
from django.test import Client, RequestFactory

from config import logs
from config.celery import app
from config.logs import JsonFormatter, RequestIdMiddleware


class JsonLines(logging.Handler):
    """Formats each record as it is emitted (the request's context is there only then)."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_lines():
    handler = JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


def _record(message, *args, **extra):
    record = logging.LogRecord("billing.test", logging.WARNING, __file__, 1, message, args, None)
    for name, value in extra.items():
        setattr(record, name, value)
    return json.loads(JsonFormatter().format(record))


@pytest.mark.django_db
def test_a_request_line_has_the_callers_request_id_and_the_user_id(json_lines, customer):
    client = Client()
    client.force_login(customer)
    response = client.get("/api/v1/orders/NO-SUCH-ORDER/", HTTP_X_REQUEST_ID="lb-4f2a9c")

    assert response.status_code == 404
    assert response["X-Request-ID"] == "lb-4f2a9c"
    line = next(line for line in json_lines if line["logger"] == "django.request")
    assert line["request_id"] == "lb-4f2a9c"
    assert line["user_id"] == customer.pk
    assert line["level"] == "WARNING" and "/api/v1/orders/NO-SUCH-ORDER/" in line["message"]
    assert line["status_code"] == 404 and line["time"].endswith("Z")


@pytest.mark.django_db
def test_a_request_without_a_sane_id_gets_a_new_one_per_request(json_lines):
    client = Client()
    first = client.get("/webhooks/stripe/", HTTP_X_REQUEST_ID="bad id\nwith a newline")
    second = client.get("/webhooks/stripe/")
    assert first.status_code == second.status_code == 405
    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert len(set(ids)) == 2 and all(len(value) == 32 for value in ids)
    logged = [line.get("request_id") for line in json_lines if line["logger"] == "django.request"]
    assert logged == ids
    assert all("user_id" not in line for line in json_lines)  # anonymous


@shared_task(name="config.tests.test_logs.log_from_a_task")
def log_from_a_task():
    logging.getLogger("billing.test").warning("inside the task")


def test_a_task_line_has_the_task_id(json_lines):
    result = log_from_a_task.apply(task_id="task-7f3e")
    assert result.successful()
    line = next(line for line in json_lines if line["message"] == "inside the task")
    assert line["task_id"] == "task-7f3e"
    assert "request_id" not in line


# send_task publishes (to the test settings' in-memory broker) even though tasks run eagerly.
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_task_queued_during_a_request_carries_its_request_id():
    seen = []

    def capture(headers=None, **kwargs):
        seen.append(dict(headers or {}))

    def view(request):
        app.send_task("config.tests.test_logs.log_from_a_task")
        return HttpResponse("queued")

    before_task_publish.connect(capture)
    try:
        request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-51")
        response = RequestIdMiddleware(view)(request)
    finally:
        before_task_publish.disconnect(capture)
        logs.end_request()
    assert response["X-Request-ID"] == "req-51"
    assert seen and seen[-1]["request_id"] == "req-51"


def test_secrets_in_the_message_the_extras_and_the_traceback_are_redacted():
    api_key = "bk_0123abcd_" + "Zk3" * 12
    stripe_key = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    line = _record(
        "Charging with %s (card %s), header Authorization: Bearer %s, "
        "url https://host/reset?password=hunter2&page=2",
        stripe_key,
        "4242 4242 4242 4242",
        api_key,
        password="hunter2",
        details={"api_key": api_key, "note": "fine"},
        webhook=f"whsec_{'a1B2' * 8}",
        order=1042,
    )
    text = json.dumps(line)
    for secret in (api_key, stripe_key, "4242 4242 4242 4242", "hunter2", "a1B2a1B2"):
        assert secret not in text, secret
    assert line["password"] == "[redacted]"
    assert line["details"] == {"api_key": "[redacted]", "note": "fine"}
    assert line["order"] == 1042  # plain values stay
    assert "sk_live_[redacted]" in line["message"] and "bk_0123abcd_[redacted]" in text


def test_a_traceback_is_one_field_of_the_line_and_redacted_too():
    try:
        raise ValueError("token=abc123def456 refused")
    except ValueError:
        record = logging.LogRecord(
            "billing.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError" in line["exception"] and "abc123def456" not in line["exception"]


def test_production_settings_log_json_lines_unless_told_otherwise():
    """Loads the production settings in a process of their own, with CI-like secrets."""

    env = {
        **os.environ,
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "billing.example.com",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": "postgresql://app@127.0.0.1:5432/app",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    env.pop("LOG_FORMAT", None)
    show = (
        "import config.settings.production as s; "
        "print(s.LOG_FORMAT, s.LOGGING['handlers']['console']['formatter'])"
    )

    def run(**extra):
        return subprocess.run(
            [sys.executable, "-c", show],
            env={**env, **extra},
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()

    assert run() == ["json", "json"]
    assert run(LOG_FORMAT="plain") == ["plain", "plain"]
