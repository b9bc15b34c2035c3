"""deploy/ describes processes that exist: every command in the compose file, the Procfile and
the systemd units names a real module, Celery app, scheduler, settings module, manage.py
command and file of this project, and the roles are split as README "Database roles" says.

We cannot pull images or start systemd here; tests/test_scaling.py runs the same commands
(gunicorn with deploy/gunicorn.conf.py, celery worker, celery beat with the leader lease) as
real processes.
"""

import importlib
import importlib.util
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from celery.utils.imports import symbol_by_name
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
APP_SERVICES = {"migrate", "web1", "web2", "worker1", "worker2", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def check_command(argv: list[str]) -> str:
    """Fail unless ``argv`` starts one of our processes with things that exist; return its
    kind (web, worker, beat, manage)."""
    program, *args = argv
    if program == "sh" and args[0] == "-c":
        kinds = {check_command(shlex.split(part)) for part in args[1].split("&&")}
        assert kinds == {"manage"}, argv
        return "manage"
    if program.endswith("gunicorn"):
        config = args[args.index("-c") + 1]
        assert (ROOT / config).is_file(), config
        module, _, name = args[-1].partition(":")
        assert callable(getattr(importlib.import_module(module), name or "application")), argv
        return "web"
    if program.endswith("celery"):
        app = importlib.import_module(f"{args[args.index('-A') + 1]}.celery").app
        command = args[args.index("-A") + 2]
        if command == "worker":
            queues = args[args.index("--queues") + 1].split(",")
            assert set(queues) <= {app.conf.task_default_queue}, (
                f"{queues}: no task is routed there (CELERY_TASK_ROUTES)"
            )
            return "worker"
        assert command == "beat", argv
        scheduler = args[args.index("--scheduler") + 1]
        assert symbol_by_name(scheduler).__name__ == "LeaderScheduler", scheduler
        return "beat"
    if program.endswith("python") and args[0] == "manage.py":
        assert args[1] in get_commands(), f"no manage.py command {args[1]!r}"
        return "manage"
    raise AssertionError(f"not one of our processes: {argv}")


def _fill(value: str) -> str:
    """${NAME:?message} / ${NAME:-default} -> a stand-in value, as compose would substitute."""
    return re.sub(r"\$\{(\w+)(?::[?-][^}]*)?\}", lambda m: f"<{m.group(1)}>", value)


def test_compose_runs_two_web_servers_two_workers_one_beat_postgres_and_redis(compose):
    services = compose["services"]
    kinds = {
        name: check_command(service["command"])
        for name, service in services.items()
        if name in APP_SERVICES
    }
    assert sorted(kinds.values()) == ["beat", "manage", "web", "web", "worker", "worker"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:pg")
    assert services["redis"]["image"].startswith("redis:")
    for name in APP_SERVICES:
        settings_module = services[name]["environment"]["DJANGO_SETTINGS_MODULE"]
        assert importlib.util.find_spec(settings_module), settings_module
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / services["web1"]["build"]["dockerfile"]).is_file()
    hostnames = [
        service["command"][-1] for name, service in services.items() if kinds.get(name) == "worker"
    ]
    assert len(set(hostnames)) == 2, "two workers need two node names"


def test_compose_gives_the_owner_login_to_migrate_alone(compose):
    services = compose["services"]
    init = (DEPLOY / "postgres" / "initdb.sh").read_text()
    for name in APP_SERVICES:
        env = services[name]["environment"]
        app = urlsplit(_fill(env["DATABASE_URL"]))
        assert (app.username, app.path) == ("billing_app", "/billing"), name
        assert ("MIGRATION_DATABASE_URL" in env) == (name == "migrate"), name
    owner = urlsplit(_fill(services["migrate"]["environment"]["MIGRATION_DATABASE_URL"]))
    assert (owner.username, owner.path) == ("billing_owner", "/billing")
    assert "CREATE ROLE billing_owner" in init and "CREATE ROLE billing_app" in init
    assert "CREATE DATABASE billing OWNER billing_owner" in init
    # The app services wait for the migration (and so for the grants) before they start.
    for name in APP_SERVICES - {"migrate"}:
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_compose_mounts_and_variables_exist(compose):
    services = compose["services"]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_file(), source
    upstream = re.findall(r"server (\w+):8000", (DEPLOY / "nginx.conf").read_text())
    assert sorted(upstream) == ["web1", "web2"]
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    example = (DEPLOY / "compose.env.example").read_text()
    assert required <= set(re.findall(r"^(\w+)=", example, re.MULTILINE)), required


def test_procfile_processes_exist():
    processes = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            processes[name] = command.strip()
    assert set(processes) == {"release", "web", "worker", "beat"}
    assert check_command(["sh", "-c", processes["release"]]) == "manage"
    for name in ("web", "worker", "beat"):
        argv = shlex.split(re.sub(r"\$\{\w+:-(\w+)\}", r"\1", processes[name]))
        assert check_command(argv) == name


def _exec_starts(path: Path) -> list[list[str]]:
    text = path.read_text().replace("\\\n", " ")
    return [
        shlex.split(line.split("=", 1)[1])
        for line in text.splitlines()
        if line.startswith("ExecStart=")
    ]


@pytest.mark.parametrize(
    ("unit", "kinds"),
    [
        ("billing-web.service", ["web"]),
        ("billing-worker@.service", ["worker"]),
        ("billing-beat.service", ["beat"]),
        ("billing-migrate.service", ["manage", "manage"]),
    ],
)
def test_systemd_units_start_our_processes(unit, kinds):
    path = DEPLOY / "systemd" / unit
    text = path.read_text()
    assert re.findall(r"^\[(\w+)\]$", text, re.MULTILINE)[:2] == ["Unit", "Service"]
    settings_module = re.search(
        r"^Environment=DJANGO_SETTINGS_MODULE=(\S+)$", text, re.MULTILINE
    ).group(1)
    assert importlib.util.find_spec(settings_module), settings_module
    starts = []
    for argv in _exec_starts(path):
        program = argv[0].removeprefix("/srv/billing/.venv/bin/")
        # %i is the queue (billing-worker@celery), ${...} comes from Environment=.
        argv = [a.replace("%i", "celery").replace("${WORKER_CONCURRENCY}", "4") for a in argv]
        starts.append(check_command([program, *argv[1:]]))
    assert starts == kinds
    owner_env = "/etc/billing/migrate.env"
    assert (owner_env in text) == (unit == "billing-migrate.service")


def test_gunicorn_config_is_valid_python_with_sane_values(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("PORT", "9000")
    values: dict = {}
    exec(  # noqa: S102
        compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"),
        values,
    )
    assert (values["workers"], values["bind"]) == (3, ["0.0.0.0:9000"])
    assert values["worker_class"] == "sync"
    assert values["graceful_timeout"] < values["timeout"]
