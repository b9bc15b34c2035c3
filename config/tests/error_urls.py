"""The real URLconf plus a few plain Django views (no DRF) that fail on purpose, under /api/
and outside it, so the tests reach Django's own error handlers through the real middleware.
Every API endpoint is a DRF view, which answers its own errors; these stand in for whatever
fails before or outside DRF."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import path

from config import urls


def forbidden(request):
    raise PermissionDenied


def crash(request):
    raise RuntimeError("a bug")


def plain_post(request):
    """Not csrf_exempt: a POST without the token fails Django's CSRF check."""
    return HttpResponse("ok")


handler400 = urls.handler400
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500

urlpatterns = [
    *[path(f"{prefix}plain/forbidden/", forbidden) for prefix in ("api/v1/", "")],
    *[path(f"{prefix}plain/crash/", crash) for prefix in ("api/v1/", "")],
    *[path(f"{prefix}plain/post/", plain_post) for prefix in ("api/v1/", "")],
    *urls.urlpatterns,
]
