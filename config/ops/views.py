"""The staff page /ops/: the same figures as /metrics, for a person, with the health checks.

ADMIN only (the staff policy's ``system.ops.view``). Someone not signed in as staff is sent to
the staff console's login, as the admin's own pages do; other staff roles get 403.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import authority
from config import health
from config.ops import heartbeat, probes
from config.throttling import ROUTES

POLICY_ACTION = "system.ops.view"


def _health_checks() -> dict[str, str]:
    results = {}
    for name, check in health.CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # shown on the page, as /healthz/ reports it
            results[name] = f"error: {exc.__class__.__name__}: {exc}"[:300]
    return results


def ago(seconds: float | None) -> str:
    """``42 s``, ``5 min``, ``3 h``, ``2 d``; ``never`` for None."""
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _scopes() -> dict[str, list[str]]:
    routes: dict[str, list[str]] = {}
    for route, scope in sorted(ROUTES.items()):
        routes.setdefault(scope, []).append(route)
    return routes


@never_cache
@require_GET
def ops_page(request):
    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not authority.may(user, POLICY_ACTION):
        raise PermissionDenied("Your role may not see the operations page.")
    snap = probes.snapshot()
    routes = _scopes()
    limits = [
        {
            "scope": scope,
            "rate": rate or "off",
            "routes": routes.get(scope, []),
            "refused": (snap["throttled"] or {}).get(scope, 0),
        }
        for scope, rate in settings.RATE_LIMITS.items()
    ]
    webhooks = [
        {"status": status, "count": row["count"], "oldest": ago(row["oldest_age"])}
        for status, row in (snap["webhooks"] or {}).items()
    ]
    beat = [{**row, "ago": ago(row["age"])} for row in snap["beat"] or []]
    workers = [{**row, "ago": ago(row["age"])} for row in snap["workers"] or []]
    outbox, check, backup = snap["outbox"], snap["credits_invariant"], snap["backup"]
    return TemplateResponse(
        request,
        "ops/index.html",
        {
            **admin.site.each_context(request),
            "title": "Operations",
            "snap": snap,
            "health": _health_checks(),
            "queues": sorted((snap["queues"] or {}).items()),
            "outbox": outbox and {**outbox, "oldest": ago(outbox["oldest_age"])},
            "webhooks": webhooks,
            "beat": beat,
            "workers": workers,
            "stale_after": ago(heartbeat.STALE_AFTER),
            "check": check and {**check, "ago": ago(check["age"])},
            "backup": backup and {**backup, "ago": ago(backup["age"])},
            "backup_dir": probes.backup_dir(),
            "limits": limits,
        },
    )
