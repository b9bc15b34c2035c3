"""The product's URLs plus the API bench's baseline, for ``bench.settings`` only (the product's
own URLconf never has it): a DRF view without authentication that answers a constant JSON
body, and the same body behind the API's authentication, permissions and throttles (a
measured bound: what an authenticated endpoint pays before its own work). Under /api/v1/ like
the endpoints they are compared with, so the same middleware and throttle classes count
them. A third view bounds the consume endpoint: behind the same authentication it runs the
database function a consume runs, prepared, and answers a constant body: what a keyed write
of one statement costs through Django with no serializer and no service around it."""

from django.urls import path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as product_urlpatterns
from core.prepared import prepared_cursor
from credits.services import CONSUME_SQL

CONSTANT_PATH = "/api/v1/bench-constant/"
KEYED_CONSTANT_PATH = "/api/v1/bench-constant-keyed/"
KEYED_CONSUME_CALL_PATH = "/api/v1/bench-consume-call/"


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


class KeyedConsumeCallView(APIView):
    """The keyed constant view plus the consume's one prepared statement for the caller
    (``{"operation": ...}`` from the body, quantity 1, no idempotency key): the least a
    Django view pays for a consume."""

    def post(self, request):
        params = [request.user.pk, request.data["operation"], 1, None, "{}", timezone.now()]
        with prepared_cursor() as cursor:
            cursor.execute(CONSUME_SQL, params)
            cursor.fetchone()
        return Response({"status": "ok"}, status=201)


urlpatterns = [
    path(CONSTANT_PATH.lstrip("/"), ConstantView.as_view()),
    path(KEYED_CONSTANT_PATH.lstrip("/"), KeyedConstantView.as_view()),
    path(KEYED_CONSUME_CALL_PATH.lstrip("/"), KeyedConsumeCallView.as_view()),
    *product_urlpatterns,
]
