import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask

from config.celery import app
from core import schedules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def declared(monkeypatch):
    # The declared list is data outside the loader under test; the loader itself runs for real.
    entries = [
        {"name": "test.every-five-minutes", "task": "x.tasks.a", "interval_seconds": 300},
        {"name": "test.nightly", "task": "x.tasks.b", "crontab": {"minute": "5", "hour": "0"}},
    ]
    monkeypatch.setattr(schedules, "declared_schedules", lambda: entries)
    return entries


@pytest.mark.django_db
def test_setup_periodic_tasks_is_an_idempotent_upsert(declared):
    call_command("setup_periodic_tasks")
    call_command("setup_periodic_tasks")

    tasks = PeriodicTask.objects.filter(name__startswith="test.")
    assert tasks.count() == 2
    nightly = tasks.get(name="test.nightly")
    assert (nightly.crontab.minute, nightly.crontab.hour) == ("5", "0")
    assert tasks.get(name="test.every-five-minutes").interval.every == 300


@pytest.mark.django_db
def test_setup_periodic_tasks_keeps_a_task_staff_disabled(declared):
    call_command("setup_periodic_tasks")
    PeriodicTask.objects.filter(name="test.nightly").update(enabled=False)

    declared[1]["crontab"] = {"minute": "10", "hour": "1"}
    call_command("setup_periodic_tasks")

    nightly = PeriodicTask.objects.get(name="test.nightly")
    assert nightly.enabled is False
    assert nightly.crontab.minute == "10"


@pytest.mark.django_db  # celery's Django fixup runs system checks, and dj-stripe's read the DB
def test_every_declared_schedule_names_a_registered_task():

    app.loader.import_default_modules()
    for entry in schedules.declared_schedules():
        assert entry["task"] in app.tasks, f"{entry['name']} points at unknown {entry['task']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    host = db.get("HOST") or ""
    if host.startswith("/"):
        return f"postgresql://{db['USER']}:@/{connection.settings_dict['NAME']}?host={host}"
    port = db.get("PORT") or 5432
    return (
        f"postgresql://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{port}/"
        f"{connection.settings_dict['NAME']}"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "launch",
    [["manage.py", "run_all"], ["-m", "config.launcher"]],  # the command; what `make run` starts
    ids=["run_all", "launcher"],
)
def test_run_all_serves_health_and_ctrl_c_stops_web_worker_and_beat(tmp_path, launch):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": _database_url(),
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)  # the no-server broker that `make run` uses on a bare machine
    log = (tmp_path / "run_all.log").open("w")
    process = subprocess.Popen(
        [sys.executable, *launch, "--port", str(port), "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body = last_answer = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and body is None:
            assert process.poll() is None, (tmp_path / "run_all.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=2) as r:
                    body = json.loads(r.read())
            except urllib.error.HTTPError as exc:  # a 503 names the failing check
                last_answer = exc.read().decode()
                time.sleep(0.5)
            except OSError:
                time.sleep(0.5)
        assert body is not None, f"no healthy answer in 90 s; last: {last_answer}"
        assert body == {
            "status": "ok",
            "checks": {"database": "ok", "broker": "ok", "migrations": "ok"},
        }
        # The worker and beat start once the web server listens: wait for them to be there.
        names, deadline = "", time.monotonic() + 15
        while time.monotonic() < deadline:
            children = psutil.Process(process.pid).children(recursive=True)
            names = " ".join(" ".join(child.cmdline()) for child in children)
            if "runserver" in names and "worker" in names and "beat" in names:
                break
            time.sleep(0.2)
        assert "runserver" in names and "worker" in names and "beat" in names, names

        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [], f"still running after Ctrl-C: {alive}"
        assert "exited with 'signal 15" not in (tmp_path / "run_all.log").read_text()
    finally:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
