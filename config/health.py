"""GET /healthz/: is the database up, the broker reachable and every migration applied?"""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app


def _check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


# Building the migration plan costs ~20 ms; a process's code cannot gain migrations while it
# runs, so once every migration was found applied the answer is kept for the process's life.
_migrations_applied = False


def _check_migrations() -> str:
    global _migrations_applied
    if _migrations_applied:
        return "ok"
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return f"error: {len(pending)} migration(s) not applied"
    _migrations_applied = True
    return "ok"


CHECKS = {"database": _check_database, "broker": _check_broker, "migrations": _check_migrations}


@never_cache
@require_GET
def healthz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # a health check reports every failure instead of raising
            results[name] = f"error: {exc.__class__.__name__}: {exc}"[:300]
    healthy = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": results},
        status=200 if healthy else 503,
    )
