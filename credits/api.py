"""REST API for a customer's own credits: summary, ledger, costs, and consuming."""

import json
from typing import Any

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictPageSize
from credits import selectors, services
from credits.models import CreditTransaction, GrantSource, TransactionKind

MAX_DETAILS_BYTES = 4096
# Keys from the API live in their own namespace, so a client can never take a key the
# system uses for grants ("signup-bonus", "order:...").
API_KEY_PREFIX = "api:"


class StrictIntegerField(serializers.IntegerField):
    """An integer in JSON: refuses "3", 3.0 and true, which IntegerField would accept."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


OPERATION_MAX_LENGTH = 64


class ConsumeInput(serializers.Serializer):
    operation = serializers.CharField(max_length=OPERATION_MAX_LENGTH)
    quantity = StrictIntegerField(min_value=1, max_value=services.MAX_QUANTITY, default=1)
    details = serializers.JSONField(required=False, default=dict)

    def validate_details(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("details must be a JSON object.")
        if len(json.dumps(value)) > MAX_DETAILS_BYTES:
            raise serializers.ValidationError(f"details must be under {MAX_DETAILS_BYTES} bytes.")
        return value


def plain_consume_input(data: Any) -> dict | None:
    """What ``ConsumeInput`` validates ``data`` to, when ``data`` is already in its plain,
    valid form (a JSON object; a printable operation without surrounding spaces; an integer
    quantity in range; a details object under the size limit); ``None`` otherwise, and the
    serializer then normalises it or says what is wrong. A consume is the API's busiest
    write, and building the serializer (DRF copies each declared field per instance) costs
    more than this check; a test holds the two to the same answer."""
    if type(data) is not dict:
        return None
    operation = data.get("operation")
    quantity = data.get("quantity", 1)
    details = data.get("details", {})
    if not (
        type(operation) is str
        and 0 < len(operation) <= OPERATION_MAX_LENGTH
        and operation.isprintable()
        and operation.strip() == operation
        and type(quantity) is int
        and 1 <= quantity <= services.MAX_QUANTITY
        and type(details) is dict
        and len(json.dumps(details)) <= MAX_DETAILS_BYTES
    ):
        return None
    return {"operation": operation, "quantity": quantity, "details": details}


class ConsumeOutput(serializers.Serializer):
    transaction_id = serializers.IntegerField(source="pk")
    operation = serializers.CharField()
    credits_charged = serializers.IntegerField()
    balance = serializers.IntegerField(source="balance_after")

    def to_representation(self, row):
        # Built directly, as the summary's lots are (the declared fields give the schema).
        return {
            "transaction_id": row.pk,
            "operation": row.operation,
            "credits_charged": row.credits_charged,
            "balance": row.balance_after,
        }


_consume_output = ConsumeOutput()  # its dict, without building a serializer per answer


class LotSerializer(serializers.Serializer):
    # Declared rather than a ModelSerializer: the summary is read on every dashboard refresh,
    # and a ModelSerializer introspects the model for its fields on each response.
    id = serializers.IntegerField(read_only=True)
    # The serializer's metaclass takes declared fields off the class, so this never replaces
    # Field.source (which the stubs see as a class attribute).
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=GrantSource.choices, read_only=True
    )
    amount = serializers.IntegerField(read_only=True)
    remaining = serializers.IntegerField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    source_ref = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, lot):
        # The declared fields give the schema; the dict is built directly (DRF copies every
        # declared field for each serializer it builds, which costs more than the query).
        expires_at = lot.expires_at
        return {
            "id": lot.pk,
            "source": lot.source,
            "amount": lot.amount,
            "remaining": lot.remaining,
            "expires_at": _timestamp.to_representation(expires_at) if expires_at else None,
            "source_ref": lot.source_ref,
            "created_at": _timestamp.to_representation(lot.created_at),
        }


_timestamp = serializers.DateTimeField()
_lot = LotSerializer()


class SummarySerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    lots = LotSerializer(many=True)
    expiring_soon = LotSerializer(many=True)
    runway_days = serializers.FloatField(allow_null=True)

    def to_representation(self, summary):
        runway = summary["runway_days"]
        return {
            "balance": summary["balance"],
            "lots": [_lot.to_representation(lot) for lot in summary["lots"]],
            "expiring_soon": [_lot.to_representation(lot) for lot in summary["expiring_soon"]],
            "runway_days": float(runway) if runway is not None else None,
        }


class TransactionSerializer(serializers.ModelSerializer):
    # A declared field, taken off the class by the metaclass: not Field.source (as above).
    source = serializers.SerializerMethodField()  # type: ignore[assignment]
    details = serializers.SerializerMethodField()

    class Meta:
        model = CreditTransaction
        fields = [
            "id",
            "kind",
            "operation",
            "quantity",
            "amount",
            "balance_after",
            "source",
            "details",
            "refund_of",
            "created_at",
        ]

    def get_source(self, row) -> str | None:
        return row.details.get("source")

    def get_details(self, row) -> dict:
        # The client's own details on a consumption; staff notes (adjustment and refund
        # reasons) stay in the staff console.
        return row.details if row.kind == TransactionKind.CONSUME else {}


class CostSerializer(serializers.Serializer):
    operation = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    cost = serializers.IntegerField()
    base_cost = serializers.IntegerField()
    overridden = serializers.BooleanField()


class LedgerCursor(StrictPageSize, CursorPagination):
    # CursorPagination alone quietly falls back to 25 on ?page_size=abc.
    ordering = ("-created_at", "-id")
    page_size = 25


class StrictChoiceFilter(django_filters.ChoiceFilter):
    """Refuses ``?kind=`` (empty), which ChoiceFilter reads as "no filter" though the schema
    lists only the choices."""

    def filter(self, qs, value):
        if value in ("", None) and self.field_name in self.parent.data:
            raise serializers.ValidationError({self.field_name: ["Choose one of the kinds."]})
        return super().filter(qs, value)


class TransactionFilter(django_filters.FilterSet):
    kind = StrictChoiceFilter(choices=TransactionKind.choices)
    operation = django_filters.CharFilter()

    class Meta:
        model = CreditTransaction
        fields = ["kind", "operation"]


class CreditSummaryView(APIView):
    @extend_schema(responses=SummarySerializer, summary="Balance, live lots and runway")
    def get(self, request):
        return Response(SummarySerializer(selectors.credit_summary(user=request.user)).data)


class TransactionListView(ListAPIView):
    serializer_class = TransactionSerializer
    pagination_class = LedgerCursor
    filter_backends = [DjangoFilterBackend]
    filterset_class = TransactionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return CreditTransaction.objects.none()
        return selectors.transactions_for(user=self.request.user)


class CostListView(APIView):
    @extend_schema(responses=CostSerializer(many=True), summary="My cost per operation")
    def get(self, request):
        return Response(CostSerializer(selectors.costs_for_user(user=request.user), many=True).data)


class ConsumeView(APIView):
    @extend_schema(
        request=ConsumeInput,
        responses={
            201: ConsumeOutput,
            400: inline_serializer(
                "CreditsError", {"code": serializers.CharField(), "detail": serializers.CharField()}
            ),
            402: inline_serializer(
                "InsufficientCredits",
                {
                    "code": serializers.CharField(),
                    "detail": serializers.CharField(),
                    "balance": serializers.IntegerField(),
                    "cost": serializers.IntegerField(),
                },
            ),
            422: OpenApiTypes.OBJECT,
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Replays return the first result.",
            )
        ],
        summary="Consume credits for an operation",
    )
    def post(self, request):
        valid = plain_consume_input(request.data)
        if valid is None:
            serializer = ConsumeInput(data=request.data)
            serializer.is_valid(raise_exception=True)
            valid = serializer.validated_data
        header = request.headers.get("Idempotency-Key", "").strip()
        row = services.consume_credits(
            user=request.user,
            operation=valid["operation"],
            quantity=valid["quantity"],
            details=valid["details"],
            idempotency_key=API_KEY_PREFIX + header if header else None,
        )
        # A replay answers exactly as the first request did (status and body).
        return Response(_consume_output.to_representation(row), status=status.HTTP_201_CREATED)
