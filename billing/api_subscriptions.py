"""Subscriptions, invoices and entitlements over REST. Thin: validate, one service, serialize."""

from typing import TYPE_CHECKING, cast

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors
from billing.models import Invoice, Subscription, SubscriptionEvent
from billing.services import invoices as invoice_service
from billing.services.subscriptions import lifecycle, plan_change, state, stripe_adapter
from core.api import Pagination
from core.money import display_fields

if TYPE_CHECKING:
    from catalog.models import Plan


def _check_interval(value: str) -> None:
    if value not in state.INTERVALS:
        raise serializers.ValidationError('Choose "month" or "year".')


class SubscribeIn(serializers.Serializer):
    plan = serializers.SlugField(max_length=120)
    interval = serializers.CharField(
        max_length=8, validators=[_check_interval], help_text='"month" or "year".'
    )
    discount_code = serializers.CharField(max_length=64, required=False, allow_blank=True)


class CancelIn(serializers.Serializer):
    at_period_end = serializers.BooleanField()


class ChangePlanIn(serializers.Serializer):
    plan = serializers.SlugField(max_length=120)
    interval = serializers.CharField(
        max_length=8, validators=[_check_interval], help_text='"month" or "year".'
    )
    preview = serializers.BooleanField(default=True)
    proration_date = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="From the preview, so the charge matches what was shown.",
    )


class TimelineOut(serializers.ModelSerializer):
    class Meta:
        model = SubscriptionEvent
        fields = ["type", "message", "created_at"]


class SubscriptionOut(serializers.ModelSerializer):
    plan: "serializers.SlugRelatedField[Plan]" = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    plan_name = serializers.CharField(source="plan.name", read_only=True)
    interval = serializers.CharField(read_only=True)
    billing_source = serializers.CharField(read_only=True, help_text='"stripe" or "manual".')
    amount = serializers.IntegerField(source="price.unit_amount", read_only=True)
    currency = serializers.CharField(source="price.currency", read_only=True)
    timeline = serializers.SerializerMethodField()

    class Meta:
        model = Subscription
        fields = [
            "id",
            "plan",
            "plan_name",
            "interval",
            "amount",
            "currency",
            "quantity",
            "status",
            "billing_source",
            "current_period_start",
            "current_period_end",
            "cancel_at_period_end",
            "canceled_at",
            "trial_start",
            "trial_end",
            "checkout_url",
            "credit_balance",
            "created_at",
            "timeline",
        ]

    def get_timeline(self, subscription) -> list[dict]:
        # Loaded with the page by selectors.subscriptions_for_user; a subscription read on
        # its own (detail, the answers of changes) reads them here.
        events = getattr(subscription, "timeline_events", None)
        if events is None:
            events = subscription.events.all()[: selectors.TIMELINE_LENGTH]
        # many=True gives a list (ReturnList); DRF's stubs type ``data`` as one object's dict.
        return cast("list[dict]", TimelineOut(events, many=True).data)


class InvoiceOut(serializers.ModelSerializer):
    subscription: "serializers.PrimaryKeyRelatedField[Subscription]" = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )
    billing_source = serializers.CharField(read_only=True, help_text='"stripe" or "manual".')
    html_url = serializers.SerializerMethodField()
    display = serializers.SerializerMethodField(
        help_text="The money fields formatted for people in the invoice's currency."
    )

    class Meta:
        model = Invoice
        fields = [
            "number",
            "status",
            "billing_source",
            "subscription",
            "currency",
            "lines",
            "subtotal",
            "discount_amount",
            "tax",
            "total",
            "amount_paid",
            "amount_due",
            "period_start",
            "period_end",
            "due_date",
            "paid_at",
            "payment_reference",
            "hosted_invoice_url",
            "created_at",
            "html_url",
            "display",
        ]

    def get_display(self, invoice) -> dict[str, str]:
        return display_fields(
            invoice, ("subtotal", "discount_amount", "tax", "total", "amount_paid", "amount_due")
        )

    def get_html_url(self, invoice) -> str:
        return reverse("billing:subscription-invoice", kwargs={"number": invoice.number})


class SubscribeOut(serializers.Serializer):
    subscription = SubscriptionOut()
    redirect_url = serializers.CharField()
    invoice = InvoiceOut(allow_null=True)


class PreviewOut(serializers.Serializer):
    plan = serializers.CharField()
    interval = serializers.CharField()
    currency = serializers.CharField()
    amount_due = serializers.IntegerField(help_text="Charged now, minor units.")
    credit = serializers.IntegerField(help_text="Owed to the customer, minor units.")
    lines = serializers.ListField(child=serializers.DictField())
    subtotal = serializers.IntegerField(
        help_text="The change invoice's subtotal (its item "
        "lines), minor units; 0 when none is issued."
    )
    discount = serializers.IntegerField(help_text="Credit for paid unused time taken off.")
    tax = serializers.IntegerField(help_text="subtotal - discount + tax = amount_due.")
    voids_invoice = serializers.CharField(
        help_text="The unpaid invoice the change cancels (its used time is charged instead)."
    )
    proration_date = serializers.IntegerField(allow_null=True)
    applied = serializers.BooleanField()
    subscription = SubscriptionOut(required=False)


class PortalOut(serializers.Serializer):
    url = serializers.URLField()


class EntitlementsOut(serializers.Serializer):
    entitlements = serializers.ListField(child=serializers.CharField())


class SubscriptionPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SubscriptionOut(many=True)


class InvoicePageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = InvoiceOut(many=True)


class BillingErrorOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)  # type: ignore[assignment]  # DRF's metaclass takes declared fields out of the class


def _errors(*statuses: int) -> dict:
    words = {
        400: "Invalid input or a refused plan/discount (see code).",
        404: "No such plan, subscription or invoice for this user.",
        409: "Refused in the subscription's current state (see code).",
        502: "Stripe could not be reached; nothing changed.",
    }
    return {
        status: OpenApiResponse(BillingErrorOut, description=words[status]) for status in statuses
    }


class SubscriptionListView(APIView):
    @extend_schema(responses=SubscriptionPageOut, operation_id="subscriptions_list")
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.subscriptions_for_user(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(SubscriptionOut(page, many=True).data)

    @extend_schema(
        request=SubscribeIn,
        responses={201: SubscribeOut, **_errors(400, 404, 409, 502)},
        operation_id="subscriptions_create",
    )
    def post(self, request):
        data = SubscribeIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = lifecycle.subscribe(
            user=request.user,
            plan=values["plan"],
            interval=values["interval"],
            discount_code=values.get("discount_code") or None,
            success_url=request.build_absolute_uri(reverse("billing:subscription"))
            + "?checkout=success",
            cancel_url=request.build_absolute_uri(
                reverse("billing:subscribe", kwargs={"slug": values["plan"]})
            )
            + f"?interval={values['interval']}",
        )
        return Response(
            {
                "subscription": SubscriptionOut(result.subscription).data,
                "redirect_url": result.redirect_url,
                "invoice": InvoiceOut(result.invoice).data if result.invoice else None,
            },
            status=201,
        )


class SubscriptionDetailView(APIView):
    @extend_schema(responses=SubscriptionOut, operation_id="subscriptions_retrieve")
    def get(self, request, pk):
        return Response(
            SubscriptionOut(
                lifecycle.subscription_for_user(user=request.user, subscription_id=pk)
            ).data
        )


class CancelView(APIView):
    @extend_schema(
        request=CancelIn,
        responses={200: SubscriptionOut, **_errors(400, 404, 409, 502)},
        operation_id="subscriptions_cancel",
    )
    def post(self, request, pk):
        subscription = lifecycle.subscription_for_user(user=request.user, subscription_id=pk)
        data = CancelIn(data=request.data)
        data.is_valid(raise_exception=True)
        result = lifecycle.cancel(
            subscription=subscription,
            at_period_end=data.validated_data["at_period_end"],
            actor=request.user,
        )
        return Response(SubscriptionOut(result).data)


class ResumeView(APIView):
    @extend_schema(
        request=None,
        responses={200: SubscriptionOut, **_errors(404, 409, 502)},
        operation_id="subscriptions_resume",
    )
    def post(self, request, pk):
        subscription = lifecycle.subscription_for_user(user=request.user, subscription_id=pk)
        return Response(
            SubscriptionOut(lifecycle.resume(subscription=subscription, actor=request.user)).data
        )


class ChangePlanView(APIView):
    @extend_schema(
        request=ChangePlanIn,
        responses={200: PreviewOut, **_errors(400, 404, 409, 502)},
        operation_id="subscriptions_change_plan",
    )
    def post(self, request, pk):
        subscription = lifecycle.subscription_for_user(user=request.user, subscription_id=pk)
        data = ChangePlanIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = plan_change.change_plan(
            subscription=subscription,
            plan=values["plan"],
            interval=values["interval"],
            preview=values["preview"],
            actor=request.user,
            proration_date=values.get("proration_date"),
        )
        body = result.as_dict()
        if result.applied:
            body["subscription"] = SubscriptionOut(result.subscription).data
        return Response(body)


class PaymentMethodView(APIView):
    @extend_schema(
        request=None,
        responses={200: PortalOut, **_errors(400, 404, 502)},
        operation_id="subscriptions_update_payment_method",
    )
    def post(self, request, pk):
        lifecycle.subscription_for_user(user=request.user, subscription_id=pk)
        url = stripe_adapter.billing_portal_url(
            user=request.user,
            return_url=request.build_absolute_uri(reverse("billing:subscription")),
        )
        return Response({"url": url})


class InvoiceListView(APIView):
    @extend_schema(responses=InvoicePageOut, operation_id="invoices_list")
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.invoices_for_user(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(InvoiceOut(page, many=True).data)


class InvoiceDetailView(APIView):
    @extend_schema(responses=InvoiceOut, operation_id="invoices_retrieve")
    def get(self, request, number):
        return Response(
            InvoiceOut(invoice_service.invoice_for_user(user=request.user, number=number)).data
        )


class EntitlementsView(APIView):
    # A client whose plan lacks api_access can still learn what it has.
    allowed_without_api_access = True

    @extend_schema(responses=EntitlementsOut, operation_id="entitlements_retrieve")
    def get(self, request):
        return Response({"entitlements": sorted(selectors.entitlements_for(user=request.user))})
