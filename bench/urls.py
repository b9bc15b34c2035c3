"""The product's URLs plus the API bench's baseline, for ``bench.settings`` only (the product's
own URLconf never has it): a DRF view without authentication that answers a constant JSON
body, and the same body behind the API's authentication, permissions and throttles (a
measured bound: what an authenticated endpoint pays before its own work). Under /api/v1/ like
the endpoints they are compared with, so the same middleware and throttle classes count
them."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as product_urlpatterns

CONSTANT_PATH = "/api/v1/bench-constant/"
KEYED_CONSTANT_PATH = "/api/v1/bench-constant-keyed/"


class ConstantView(APIView):
    """What gunicorn, Django's middleware and DRF cost with no database and no work."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"status": "ok"})


class KeyedConstantView(APIView):
    """The same constant body behind the API's own authentication (the API key), permissions
    (signed in, the plan's api_access) and throttles: what any authenticated endpoint pays
    before its own work."""

    def get(self, request):
        return Response({"status": "ok"})


urlpatterns = [
    path(CONSTANT_PATH.lstrip("/"), ConstantView.as_view()),
    path(KEYED_CONSTANT_PATH.lstrip("/"), KeyedConstantView.as_view()),
    *product_urlpatterns,
]
