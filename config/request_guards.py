"""Refuse request input PostgreSQL cannot store before any view looks it up.

PostgreSQL text cannot contain NUL (0x00): a URL such as ``/orders/%00/`` reached the order
lookup through a ``<str:number>`` converter and failed there with DataError, a 500. No URL of
ours contains NUL, so such a path is simply not found (JSON under /api/, see ``handler404``).

The staff console passes its query string to the database as it is (list filters such as
``?status=…``, the search box, date drill-down): a NUL there is a 400. Customer pages and the
API clean or refuse their own query parameters (the help search drops NUL, for one).
"""

from django.core.exceptions import BadRequest
from django.http import Http404
from django.urls import NoReverseMatch, reverse


class NulInPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._admin_prefix = None

    def __call__(self, request):
        if "\x00" in request.path:
            raise Http404("The path contains a NUL character.")
        if request.path.startswith(self.admin_prefix()) and _nul_in_query(request):
            raise BadRequest("The query string contains a NUL character.")
        return self.get_response(request)

    def admin_prefix(self) -> str:
        if self._admin_prefix is None:
            try:
                self._admin_prefix = reverse("admin:index")
            except NoReverseMatch:  # a URL configuration without the staff console
                self._admin_prefix = "\x00"
        return self._admin_prefix


def _nul_in_query(request) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.GET.lists()
    )
