"""The staff console's requests: dates in the staff member's time zone, and the theme's
script allowed by the Content Security Policy."""

import zoneinfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from console.models import StaffPreference

# The theme's components (Alpine.js) evaluate their attribute expressions with Function():
# allowed on the console's pages only; every other page keeps script-src 'self' alone.
CONSOLE_CSP_UPDATE = {"script-src": ["'unsafe-eval'"]}


def staff_timezone(user) -> zoneinfo.ZoneInfo:
    """The zone a staff member reads dates in: their console preference, else the
    business's (settings.TIME_ZONE)."""
    name = (
        StaffPreference.objects.filter(user_id=user.pk).values_list("timezone", flat=True).first()
    ) or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class StaffConsoleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = None

    def __call__(self, request):
        if self.prefixes is None:
            # The console, and the operations page that renders inside it.
            self.prefixes = (reverse("admin:index"), reverse("ops"))
        if not request.path.startswith(self.prefixes):
            return self.get_response(request)
        user = getattr(request, "user", None)
        activated = bool(user is not None and user.is_authenticated and user.is_staff)
        if activated:
            timezone.activate(staff_timezone(user))
        try:
            response = self.get_response(request)
        finally:
            if activated:
                timezone.deactivate()
        update = dict(getattr(response, "_csp_update", None) or {})
        for directive, sources in CONSOLE_CSP_UPDATE.items():
            update[directive] = [*update.get(directive, []), *sources]
        response._csp_update = update
        return response
