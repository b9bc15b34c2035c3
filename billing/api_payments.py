"""``/api/v1/payments/``: the customer's payments with what each paid, how, and its refunds."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import receipts
from core.api import Pagination
from core.money import format_money


class RefundOut(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Minor units.")
    currency = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    processed_at = serializers.DateTimeField(allow_null=True)
    display = serializers.CharField(help_text="The amount formatted for people.")


class PaidForOut(serializers.Serializer):
    kind = serializers.CharField(help_text='"order" or "invoice".')
    number = serializers.CharField()
    url = serializers.CharField(help_text="The customer's page of that order or invoice.")


class PaymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    receipt_number = serializers.CharField()
    paid_at = serializers.DateTimeField()
    amount = serializers.IntegerField(help_text="Minor units (cents; yen for JPY).")
    currency = serializers.CharField()
    display = serializers.CharField(help_text="The amount formatted for people, e.g. $19.00.")
    provider = serializers.CharField(help_text='"stripe" or "manual" (bank transfer).')
    method = serializers.CharField(help_text='As people read it: "Visa ending 4242".')
    method_type = serializers.CharField()
    card_brand = serializers.CharField(allow_blank=True)
    card_last4 = serializers.CharField(allow_blank=True)
    paid_for = PaidForOut()
    refunds = RefundOut(many=True)
    refunded = serializers.IntegerField(help_text="Refunds that succeeded, minor units.")
    receipt_url = serializers.CharField()
    receipt_pdf_url = serializers.CharField()


class PaymentPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PaymentOut(many=True)


def payment_out(payment) -> dict:
    refunds = receipts.refunds_of(payment)
    return {
        "id": payment.pk,
        "receipt_number": payment.receipt_number or "",
        "paid_at": payment.paid_at,
        "amount": payment.amount,
        "currency": payment.currency,
        "display": format_money(payment.amount, payment.currency),
        "provider": payment.provider,
        "method": receipts.method_label(payment),
        "method_type": payment.method_type
        or ("bank_transfer" if payment.provider == "manual" else "card"),
        "card_brand": payment.method_brand,
        "card_last4": payment.method_last4,
        "paid_for": receipts.paid_for(payment),
        "refunds": [
            {
                "amount": r.amount,
                "currency": r.currency,
                "status": r.status,
                "reason": r.reason,
                "created_at": r.created_at,
                "processed_at": r.processed_at,
                "display": format_money(r.amount, r.currency),
            }
            for r in refunds
        ],
        "refunded": sum(r.amount for r in refunds if r.status == "SUCCEEDED"),
        "receipt_url": f"/billing/payments/{payment.pk}/",
        "receipt_pdf_url": f"/billing/payments/{payment.pk}/pdf/",
    }


class PaymentListView(APIView):
    @extend_schema(responses=PaymentPageOut, operation_id="payments_list")
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            receipts.payments_for_user(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(
            PaymentOut([payment_out(p) for p in page], many=True).data
        )


class PaymentDetailView(APIView):
    @extend_schema(responses=PaymentOut, operation_id="payments_retrieve")
    def get(self, request, pk):
        payment = receipts.payment_for_user(user=request.user, payment_id=pk)
        return Response(PaymentOut(payment_out(payment)).data)
