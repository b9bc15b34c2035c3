"""A database that stops answering in the middle of a request is a 503, not a 500.

PostgreSQL can drop a connection under a running request: a restart or failover, an operator's
``pg_terminate_backend``, a network cut. Requests do not run in one big transaction
(``ATOMIC_REQUESTS`` is off); every service writes inside its own ``transaction.atomic()``, so
the server discards whatever the interrupted transaction had written when its connection ends.
What is left to do is here: answer a clean 503 that the client may retry (JSON in the shared
error shape under /api/, the 503 page elsewhere) and make sure the broken connection is not used
again, neither by the rest of this request (session save) nor by the next one on this thread.

API views reach the same answer through ``core.api.exception_handler`` (both share
``core.unavailable``); this middleware covers the server-rendered pages and any non-DRF view;
``server_error`` (as ``handler500``) covers a failure in a middleware before the view runs.
"""

import sys

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

from core.system_config import get_config_without_database
from core.unavailable import (
    CODE,
    DATABASE_UNAVAILABLE,
    MESSAGE,
    RETRY_AFTER_SECONDS,
    discard_broken_connections,
    report,
)


def business_name_offline() -> str:
    """The business's name for a page rendered while the database fails: never a query."""
    return get_config_without_database("business_name")


def unavailable_response(request) -> HttpResponse:
    """The 503 answer for ``request``: the shared JSON error under /api/, else the page.

    The page is rendered without the request, so no context processor runs a query.
    """
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": CODE, "detail": MESSAGE, "fields": {}}, status=503)
    else:
        retry_url = request.get_full_path() if request.method == "GET" else ""
        page = render_to_string(
            "503.html",
            {"business_name": business_name_offline(), "message": MESSAGE, "retry_url": retry_url},
        )
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request):
    """``handler500``: a lost database raised outside any view, e.g. while a middleware loads
    the session when the server is down, is the same 503; anything else is a 500: JSON in the
    shared error shape under /api/, Django's page elsewhere.

    Django calls this handler from inside its ``except`` block, so the exception is at hand;
    it logs the answer itself ("Service Unavailable", with the traceback).
    """

    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        discard_broken_connections()
        return unavailable_response(request)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "server_error", "detail": "A server error occurred.", "fields": {}}, status=500
        )
    return django_server_error(request)


class DatabaseUnavailableMiddleware:
    """Turns a lost database connection raised by a view into the 503 answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        report(request, exception)
        discard_broken_connections()
        return unavailable_response(request)
