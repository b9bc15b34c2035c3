"""GET /api/v1/analytics/metrics/: one metric's daily rollups over a bounded date range."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import authority
from accounts.entitlements import RequiresEntitlement
from analytics import selectors
from analytics.metrics import family_of
from analytics.models import DailyMetric


class SeesRevenue(permissions.BasePermission):
    """Revenue figures follow the staff policy's ``analytics.view_revenue``, like the
    dashboard (support agents and customers: 403)."""

    message = "Your role may not read revenue figures."

    def has_permission(self, request, view):
        return bool(
            request.user
            and request.user.is_authenticated
            and authority.may(request.user, "analytics.view_revenue")
        )


class DailyMetricSerializer(serializers.ModelSerializer):
    value = serializers.DecimalField(max_digits=24, decimal_places=6, coerce_to_string=True)

    class Meta:
        model = DailyMetric
        fields = ["date", "dimension", "value", "metadata", "definition_version", "computed_at"]


class MetricSeriesSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # DRF's metaclass takes declared fields out of the class
    unit = serializers.CharField()
    family = serializers.CharField()
    definition = serializers.CharField()
    version = serializers.IntegerField()
    from_ = serializers.DateField(source="from")
    to = serializers.DateField()
    dimension = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    results = DailyMetricSerializer(many=True)


class MetricsView(APIView):
    """Query: ``metric`` (required), ``from`` and ``to`` (YYYY-MM-DD, at most 366 days
    inclusive), ``dimension`` (optional: a currency or operation; empty string = totals)."""

    permission_classes = [SeesRevenue, RequiresEntitlement]

    @extend_schema(
        tags=["analytics"],
        parameters=[
            OpenApiParameter(
                "metric",
                OpenApiTypes.STR,
                required=True,
                description="A metric key, e.g. mrr, gross_revenue.",
            ),
            OpenApiParameter("from", OpenApiTypes.DATE, required=True),
            OpenApiParameter(
                "to",
                OpenApiTypes.DATE,
                required=True,
                description="Inclusive; at most 366 days after from.",
            ),
            OpenApiParameter(
                "dimension",
                OpenApiTypes.STR,
                description="A currency or operation key; empty = totals.",
            ),
        ],
        responses={200: MetricSeriesSerializer},
    )
    def get(self, request):
        params = request.query_params
        metric = selectors.check_metric(params.get("metric"))
        start = selectors.parse_day(params.get("from"), "from")
        end = selectors.parse_day(params.get("to"), "to")
        selectors.check_range(start, end)
        dimension = params.get("dimension")
        rows = selectors.metric_rows(metric.key, start, end, dimension)
        family = family_of(metric.key)
        return Response(
            {
                "metric": metric.key,
                "label": metric.label,
                "unit": metric.unit,
                "family": family.key,
                "definition": " ".join(family.definition.split()),
                "version": family.version,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "dimension": dimension,
                "count": len(rows),
                "results": DailyMetricSerializer(rows, many=True).data,
            }
        )
