"""Production settings start only on their real parts: PostgreSQL at DATABASE_URL, Redis at
REDIS_URL, and the static files collectstatic wrote. Each case loads them in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parents[2]
# Variables of this test run that must not leak into the production process.
_DROPPED = (
    "DATABASE_URL",
    "MIGRATION_DATABASE_URL",
    "REPLICA_DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "STATIC_ROOT",
    "DEBUG",
)


def production(code: str, **variables) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="production-test-" + "k" * 50,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="billing.example.com",
        **variables,
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


LOAD = "import django; django.setup()"


def test_production_refuses_to_start_without_database_url():
    result = production(LOAD, REDIS_URL="redis://127.0.0.1:6379/0")

    assert result.returncode != 0
    assert (
        "config.env.ConfigurationError: DATABASE_URL must be set in the environment "
        "(production settings never start the embedded PostgreSQL server)"
    ) in result.stderr


def test_production_refuses_to_start_without_redis_url():
    result = production(LOAD, DATABASE_URL="postgresql://app:secret@127.0.0.1:1/billing")

    assert result.returncode != 0
    assert (
        "config.env.ConfigurationError: REDIS_URL must be set in the environment "
        "(production settings never use the file broker and cache)"
    ) in result.stderr


def test_production_runs_on_the_services_it_is_given_and_check_deploy_wants_collectstatic(tmp_path):
    code = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
print(json.dumps({
    "database": [settings.DATABASES["default"][key] for key in ("HOST", "PORT", "NAME")],
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "embedded_server_imported": "config.embedded_db" in sys.modules,
}))
sys.stdout.flush()
call_command("check", deploy=True, fail_level="WARNING")
"""
    result = production(
        code,
        DATABASE_URL="postgresql://app:secret@127.0.0.1:1/billing",
        REDIS_URL="redis://127.0.0.1:1/0",
        STATIC_ROOT=str(tmp_path),
    )

    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts == {
        "database": ["127.0.0.1", 1, "billing"],
        "broker": "redis://127.0.0.1:1/0",
        "cache": "config.cache.ResilientRedisCache",
        "embedded_server_imported": False,
    }
    assert result.returncode != 0
    assert "(config.E001) The static files manifest staticfiles.json is missing" in result.stderr
    assert "Run `python manage.py collectstatic --noinput`" in result.stderr
    assert "System check identified 1 issue" in result.stderr, result.stderr


def test_the_manifest_check_passes_once_collectstatic_wrote_the_manifest(settings, tmp_path, db):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }

    assert [
        error.id
        for error in run_checks(include_deployment_checks=True)
        if error.id == "config.E001"
    ] == ["config.E001"]

    staticfiles_storage.save_manifest()  # collectstatic's last step

    assert "config.E001" not in [error.id for error in run_checks(include_deployment_checks=True)]
    assert (tmp_path / "staticfiles.json").exists()


def test_the_manifest_check_is_for_deployments_only(settings, tmp_path, db):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }

    assert "config.E001" not in [error.id for error in run_checks()]
