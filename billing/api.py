"""Billing's REST API: cart, checkout, orders, downloads. Thin: validate, one service, serialize."""

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import AddressSerializer
from accounts.profile import ADDRESS_KEYS
from billing import errors, selectors
from billing.models import BillingSource, CartItem, Order, OrderItem
from billing.services import cart as cart_service
from billing.services.checkout import checkout
from billing.services.downloads import register_download, register_included_download
from core.api import Pagination
from core.money import display_fields

# --- serializers -----------------------------------------------------------------------------


class AddItemIn(serializers.Serializer):
    product_id = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=cart_service.MAX_QUANTITY, default=1)
    price_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    variant_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class QuantityIn(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=cart_service.MAX_QUANTITY)


class CodeIn(serializers.Serializer):
    discount_code = serializers.CharField(max_length=64, allow_blank=True, allow_null=True)


class CheckoutIn(serializers.Serializer):
    payment_method = serializers.ChoiceField(choices=BillingSource.values, required=False)
    discount_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    billing_address = serializers.DictField(
        required=False,
        help_text=f"Only {', '.join(ADDRESS_KEYS)} are kept (country: a two-letter ISO code); "
        "other keys are dropped.",
    )
    # Anything else the client sends (totals, prices) is ignored: the server prices the cart.


class CartLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    price_id = serializers.IntegerField(allow_null=True)
    variant_id = serializers.IntegerField(allow_null=True)
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_amount = serializers.IntegerField()
    line_total = serializers.IntegerField()
    discount_amount = serializers.IntegerField()
    tax_rate = serializers.DecimalField(max_digits=7, decimal_places=4)
    tax = serializers.IntegerField()
    quantity_limit = serializers.IntegerField(
        help_text="The most units this line may hold (tiers and stock); the same limit the "
        "product page shows."
    )


class ErrorOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class CartOut(serializers.Serializer):
    """Amounts are integer minor units of ``currency``."""

    items = CartLineOut(many=True)
    currency = serializers.CharField(allow_null=True)
    subtotal = serializers.IntegerField()
    discount_amount = serializers.IntegerField()
    tax = serializers.IntegerField()
    total = serializers.IntegerField()
    discount_code = serializers.CharField(allow_null=True)
    discount_error = ErrorOut(allow_null=True)
    unavailable_items = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Cart item ids that can no longer be bought; checkout refuses until removed.",
    )


def cart_payload(user) -> dict:
    quote, problem = cart_service.cart_quote(user=user)
    cart = cart_service.get_cart(user=user)
    unavailable = [item.pk for item in cart_service.unavailable_items(user=user)]
    if quote is None:
        return {
            "items": [],
            "currency": None,
            "subtotal": 0,
            "discount_amount": 0,
            "tax": 0,
            "total": 0,
            "discount_code": cart_service.code_shown(cart),
            "discount_error": None,
            "unavailable_items": unavailable,
        }
    return {
        "unavailable_items": unavailable,
        "items": [
            {
                "id": line.cart_item_id,
                "product_id": line.product.pk,
                "price_id": getattr(line.price, "pk", None),
                "variant_id": getattr(line.variant, "pk", None),
                "description": line.description,
                "quantity": line.quantity,
                "unit_amount": line.unit_amount,
                "line_total": line.line_total,
                "discount_amount": line.discount_amount,
                "tax_rate": str(line.tax_rate),
                "tax": line.tax,
                "quantity_limit": line.quantity_limit,
            }
            for line in quote.lines
        ],
        "currency": quote.currency,
        "subtotal": quote.subtotal,
        "discount_amount": quote.discount_amount,
        "tax": quote.tax,
        "total": quote.total,
        "discount_code": cart_service.code_shown(cart) if quote.discount else None,
        "discount_error": ({"code": problem.code, "detail": problem.message} if problem else None),
    }


class OrderItemOut(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = OrderItem
        fields = [
            "id",
            "product",
            "price",
            "variant",
            "description",
            "quantity",
            "unit_amount",
            "line_total",
            "discount_amount",
            "tax_rate",
            "tax",
            "credits_granted",
            "download_count",
            "download_limit",
            "access_expires_at",
            "download_url",
        ]

    def get_download_url(self, item) -> str | None:
        if not item.product.download_file_id:
            return None
        return reverse(
            "api:billing-order-download", kwargs={"number": item.order.number, "item_id": item.pk}
        )


class OrderOut(serializers.ModelSerializer):
    items = OrderItemOut(many=True, read_only=True)
    billing_address = AddressSerializer(read_only=True, allow_null=True)
    invoice_number = serializers.SerializerMethodField()
    display = serializers.SerializerMethodField(
        help_text="The money fields formatted for people in the order's currency."
    )

    class Meta:
        model = Order
        # internal_notes is staff-only: never in the customer API.
        fields = [
            "number",
            "status",
            "payment_status",
            "billing_source",
            "currency",
            "subtotal",
            "discount_amount",
            "tax",
            "total",
            "refunded_amount",
            "billing_address",
            "notes",
            "checkout_url",
            "created_at",
            "completed_at",
            "cancelled_at",
            "invoice_number",
            "items",
            "display",
        ]

    def get_display(self, order) -> dict[str, str]:
        return display_fields(
            order, ("subtotal", "discount_amount", "tax", "total", "refunded_amount")
        )

    def get_invoice_number(self, order) -> str | None:
        invoice = order.invoice_or_none
        return invoice.number if invoice else None


# --- views -----------------------------------------------------------------------------------


class InvoiceSummaryOut(serializers.Serializer):
    number = serializers.CharField()
    total = serializers.IntegerField()
    currency = serializers.CharField()
    due_date = serializers.DateField()
    payment_reference = serializers.CharField()


class CheckoutOut(serializers.Serializer):
    order = OrderOut()
    redirect_url = serializers.CharField(help_text="Stripe Checkout URL; empty for manual.")
    invoice = InvoiceSummaryOut(allow_null=True)


class OrderPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrderOut(many=True)


class CartView(APIView):
    @extend_schema(responses=CartOut, operation_id="cart_retrieve")
    def get(self, request):
        return Response(cart_payload(request.user))

    @extend_schema(request=AddItemIn, responses={201: CartOut}, operation_id="cart_add_item")
    def post(self, request):
        data = AddItemIn(data=request.data)
        data.is_valid(raise_exception=True)
        cart_service.add_item(user=request.user, **data.validated_data)
        return Response(cart_payload(request.user), status=201)

    @extend_schema(request=CodeIn, responses=CartOut, operation_id="cart_set_discount_code")
    def patch(self, request):
        data = CodeIn(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data["discount_code"]
        if code:
            cart_service.apply_code(user=request.user, code=code)
        else:
            cart_service.remove_code(user=request.user)
        return Response(cart_payload(request.user))

    @extend_schema(responses={204: None}, operation_id="cart_clear")
    def delete(self, request):
        cart_service.clear(user=request.user)
        return Response(status=204)


class CartItemView(APIView):
    @extend_schema(responses=CartLineOut, operation_id="cart_item_retrieve")
    def get(self, request, item_id):
        if not CartItem.objects.filter(pk=item_id, cart__user=request.user).exists():
            raise errors.CartItemNotFound()
        payload = cart_payload(request.user)
        line = next((i for i in payload["items"] if i["id"] == item_id), None)
        if line is None:
            # The line's product can no longer be priced (unpublished, no active price).
            raise errors.ProductUnavailable(cart_item=item_id)
        return Response(line)

    @extend_schema(request=QuantityIn, responses=CartOut, operation_id="cart_item_update")
    def patch(self, request, item_id):
        data = QuantityIn(data=request.data)
        data.is_valid(raise_exception=True)
        cart_service.update_item(
            user=request.user, item_id=item_id, quantity=data.validated_data["quantity"]
        )
        return Response(cart_payload(request.user))

    @extend_schema(responses={204: None}, operation_id="cart_item_remove")
    def delete(self, request, item_id):
        cart_service.remove_item(user=request.user, item_id=item_id)
        return Response(status=204)


class CheckoutView(APIView):
    @extend_schema(request=CheckoutIn, responses={201: CheckoutOut}, operation_id="checkout")
    def post(self, request):
        data = CheckoutIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = checkout(
            user=request.user,
            method=values.get("payment_method"),
            discount_code=values.get("discount_code") or None,
            notes=values.get("notes", ""),
            billing_address=values.get("billing_address"),
            success_url=request.build_absolute_uri(reverse("billing:checkout-success"))
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=request.build_absolute_uri(reverse("billing:checkout-cancel")),
        )
        body = {
            "order": OrderOut(result.order).data,
            "redirect_url": result.redirect_url,
            "invoice": None,
        }
        if result.invoice is not None:
            body["invoice"] = {
                "number": result.invoice.number,
                "total": result.invoice.total,
                "currency": result.invoice.currency,
                "due_date": result.invoice.due_date,
                "payment_reference": result.invoice.payment_reference,
            }
        return Response(body, status=201)


class OrderListView(APIView):
    @extend_schema(responses=OrderPageOut, operation_id="orders_list")
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.orders_for_user(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(OrderOut(page, many=True).data)


class OrderDetailView(APIView):
    @extend_schema(responses=OrderOut, operation_id="orders_retrieve")
    def get(self, request, number):
        order = selectors.order_for_user(user=request.user, number=number)
        if order is None:
            raise errors.OrderNotFound()
        return Response(OrderOut(order).data)


def download_response(stored):
    """Redirect to a file held elsewhere; stream one we store ourselves."""
    if stored.url:
        return HttpResponseRedirect(stored.url)
    return FileResponse(
        default_storage.open(stored.path),
        as_attachment=True,
        filename=stored.name,
        content_type=stored.content_type or None,
    )


class DownloadView(APIView):
    @extend_schema(
        responses={
            302: OpenApiResponse(description="Redirect to the file."),
            200: OpenApiResponse(OpenApiTypes.BINARY, description="The file itself."),
        },
        operation_id="orders_item_download",
    )
    def get(self, request, number, item_id):
        stored = register_download(user=request.user, order_number=number, item_id=item_id)
        return download_response(stored)


class IncludedDownloadView(APIView):
    """A product the customer's live plan includes (``Plan.included_downloads``): the same
    file, limit and answers as a bought download; 403 ``entitlement_required`` without it."""

    @extend_schema(
        responses={
            302: OpenApiResponse(description="Redirect to the file."),
            200: OpenApiResponse(OpenApiTypes.BINARY, description="The file itself."),
        },
        operation_id="downloads_included_retrieve",
    )
    def get(self, request, product_id):
        stored = register_included_download(user=request.user, product_id=product_id)
        return download_response(stored)
