"""Refuse request input PostgreSQL cannot store before any view looks it up.

PostgreSQL text cannot contain NUL (0x00): a URL such as ``/orders/%00/`` reached the order
lookup through a ``<str:number>`` converter and failed there with DataError, a 500. No URL of
ours contains NUL, so such a path is simply not found (JSON under /api/, see ``handler404``).
"""

from django.http import Http404


class NulInPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            raise Http404("The path contains a NUL character.")
        return self.get_response(request)
