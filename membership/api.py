"""GET /api/v1/membership/: the customer's membership in one answer."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import _errors
from membership.serializers import MembershipSerializer, membership_body


class MembershipView(APIView):
    # A client whose plan lacks api_access can still learn why.
    allowed_without_api_access = True

    @extend_schema(
        tags=["me"],
        responses={200: MembershipSerializer, **_errors(401)},
        summary="My membership: status, plan and period end, in one answer",
    )
    def get(self, request):
        return Response(membership_body(request.user))
