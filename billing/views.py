"""Billing's pages: cart, checkout, success/cancel, orders, invoice, downloads; the webhook."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import errors, selectors
from billing.api import download_response
from billing.models import BillingSource, Order, OrderStatus
from billing.services import cart as cart_service
from billing.services.checkout import checkout
from billing.services.downloads import register_download, register_included_download
from billing.stripe import client as stripe_client
from billing.stripe.inbox import InvalidEvent, record_event
from billing.stripe.signature import SignatureError, verify_signature
from catalog.models import Plan, Product
from catalog.views import add_to_cart_refused
from core.api import DomainError
from core.outbox.publisher import publish_soon
from core.system_config import get_config

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verify, record, answer. The event and its outbox row commit together in one statement
    (services.inbox.record_event), so the processing task cannot be lost; the process's
    publisher thread publishes it (core.outbox.publisher), so neither Stripe's wait nor this
    worker's next request waits for the broker, and what it cannot publish the relay does."""
    body = request.body
    try:
        verify_signature(
            body=body,
            header=request.headers.get("Stripe-Signature", ""),
            secret=settings.STRIPE.get("webhook_secret", ""),
        )
        recorded = record_event(body=body, publish=False)
    except (SignatureError, InvalidEvent) as exc:
        logger.warning("Stripe webhook refused: %s", exc)
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    if recorded.message_id is None:  # a duplicate delivery: nothing new to process
        return HttpResponse("ok", content_type="text/plain")
    transaction.on_commit(lambda: publish_soon(recorded.message_id))
    return HttpResponse("ok", content_type="text/plain")


def _cart_context(user):
    quote, problem = cart_service.cart_quote(user=user)
    cart = cart_service.get_cart(user=user)
    return {
        "quote": quote,
        "discount_problem": problem,
        "cart": cart,
        "applied_code": cart_service.code_shown(cart),
        "unavailable": cart_service.unavailable_items(user=user),
        "stripe_available": stripe_client.is_configured(),
    }


@login_required
def cart_page(request):
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add":
                cart_service.add_item(
                    user=request.user,
                    product_id=_int(request.POST.get("product_id")),
                    quantity=_quantity(request.POST.get("quantity")),
                    price_id=_int(request.POST.get("price_id"), None),
                    variant_id=_int(request.POST.get("variant_id"), None),
                )
                messages.success(request, "Added to your cart.")
            elif action == "update":
                cart_service.update_item(
                    user=request.user,
                    item_id=_int(request.POST.get("item_id")),
                    quantity=_quantity(request.POST.get("quantity")),
                )
                messages.success(request, "Quantity updated.")
            elif action == "remove":
                cart_service.remove_item(
                    user=request.user, item_id=_int(request.POST.get("item_id"))
                )
                messages.success(request, "Item removed.")
            elif action == "apply_code":
                if not request.POST.get("code", "").strip():
                    raise DomainError(
                        "Enter a discount code to apply.", code="code_required", field="code"
                    )
                cart_service.apply_code(user=request.user, code=request.POST.get("code", ""))
                messages.success(request, "Discount code applied.")
            elif action == "remove_code":
                cart_service.remove_code(user=request.user)
                messages.success(request, "Discount code removed.")
        except DomainError as exc:
            field = exc.extra.get("field") or {"apply_code": "code"}.get(action)
            if action == "add" and field == "quantity":
                # The error belongs beside the product page's quantity field.
                refused = add_to_cart_refused(
                    request,
                    _int(request.POST.get("product_id")),
                    {"quantity": exc.message},
                    request.POST.get("quantity", ""),
                )
                if refused is not None:
                    return refused
            context = _cart_context(request.user)
            context["form_error"] = exc.message
            context["form_error_code"] = exc.code
            # Shown beside the field it is about (the code, or one line's quantity).
            context["field_error"] = {
                "field": field,
                "message": exc.message,
                "item_id": request.POST.get("item_id", ""),
                "value": request.POST.get(field or "", ""),
            }
            return render(request, "billing/cart.html", context, status=400)
        return redirect("billing:cart")
    return render(request, "billing/cart.html", _cart_context(request.user))


def _quantity(value) -> int:
    """A quantity typed by the customer: a whole number from 1, or a form error (never a
    silent 1)."""
    try:
        quantity = int(str(value).strip())
    except (TypeError, ValueError):
        quantity = 0
    if quantity < 1:
        raise DomainError(
            "Enter a whole number of at least 1.", code="invalid_quantity", field="quantity"
        )
    return quantity


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        if default == 0:
            raise errors.CartItemNotFound("Invalid request.", code="invalid") from None
        return default


@login_required
def checkout_page(request):
    context = _cart_context(request.user)
    if request.method == "POST":
        method = request.POST.get("payment_method") or None
        if method not in (None, *BillingSource.values):
            method = None
        try:
            result = checkout(
                user=request.user,
                method=method,
                notes=request.POST.get("notes", "")[:2000],
                success_url=request.build_absolute_uri(reverse("billing:checkout-success"))
                + "?session_id={CHECKOUT_SESSION_ID}",
                cancel_url=request.build_absolute_uri(reverse("billing:checkout-cancel")),
            )
        except DomainError as exc:
            context["form_error"] = exc.message
            context["form_error_code"] = exc.code
            return render(request, "billing/checkout.html", context, status=400)
        if result.redirect_url:
            return HttpResponseRedirect(result.redirect_url)
        return redirect("billing:order", number=result.order.number)
    if context["quote"] is None:
        messages.info(request, "Your cart is empty.")
        return redirect("billing:cart")
    return render(request, "billing/checkout.html", context)


@login_required
def checkout_success(request):
    order = Order.objects.filter(
        user=request.user, stripe_checkout_session_id=request.GET.get("session_id") or "-"
    ).first()
    return render(
        request,
        "billing/checkout_success.html",
        {"order": order, "payment": _payment_state(order) if order else ""},
    )


SESSION_STATE_SECONDS = 60


def _payment_state(order: Order) -> str:
    """What Stripe says of the order's Checkout Session, so a customer back from Stripe sees
    it at once rather than after the webhook: "paid", "processing" (an asynchronous method,
    e.g. a bank debit), "open" (not finished), "expired", or "" when Stripe cannot be asked.
    One call per session a minute (cached); none once our books say paid."""
    if order.status in (
        OrderStatus.COMPLETED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
    ):
        return "paid"
    key = f"billing:checkout-session-state:{order.stripe_checkout_session_id}"
    state = cache.get(key)
    if state is not None:
        return state
    if not order.stripe_checkout_session_id:
        return ""  # no session to ask about (Stripe would refuse the lookup)
    try:
        session = stripe_client.retrieve_checkout_session(order.stripe_checkout_session_id)
    except (stripe_client.stripe.StripeError, stripe_client.StripeUnavailable):
        logger.warning("Could not read Checkout Session %s", order.stripe_checkout_session_id)
        return ""
    if session.get("payment_status") in ("paid", "no_payment_required"):
        state = "paid"
    elif session.get("status") == "complete":
        state = "processing"
    else:
        state = session.get("status") or ""
    cache.set(key, state, SESSION_STATE_SECONDS)
    return state


@login_required
def checkout_cancel(request):
    return render(request, "billing/checkout_cancel.html", {})


@login_required
def order_list(request):
    page = Paginator(selectors.orders_for_user(user=request.user), 20).get_page(
        request.GET.get("page")
    )
    return render(request, "billing/order_list.html", {"page": page})


def _order_or_404(request, number):
    order = selectors.order_for_user(user=request.user, number=number)
    if order is None:
        raise Http404("No such order.")
    return order


@login_required
def order_detail(request, number):
    order = _order_or_404(request, number)
    return render(
        request,
        "billing/order_detail.html",
        {
            "order": order,
            "invoice": order.invoice_or_none,
            "bank_instructions": get_config("billing.bank_transfer_instructions"),
        },
    )


@login_required
def invoice_page(request, number):
    order = _order_or_404(request, number)
    invoice = order.invoice_or_none
    if invoice is None:
        raise Http404("This order has no invoice.")
    return render(
        request,
        "billing/invoice.html",
        {
            "order": order,
            "invoice": invoice,
            "discount_label": selectors.discount_label(invoice),
            "bank_instructions": get_config("billing.bank_transfer_instructions"),
            "business_name": get_config("business_name"),
            "business_address": get_config("business_address"),
            "business_tax_id": get_config("business_tax_id"),
        },
    )


@login_required
def download(request, number, item_id):
    try:
        stored = register_download(user=request.user, order_number=number, item_id=item_id)
    except errors.OrderNotFound as exc:
        raise Http404("No such order.") from exc
    except DomainError as exc:
        order = _order_or_404(request, number)
        messages.error(request, exc.message)
        return render(
            request,
            "billing/order_detail.html",
            {
                "order": order,
                "invoice": order.invoice_or_none,
                "form_error": exc.message,
                "form_error_code": exc.code,
                "bank_instructions": get_config("billing.bank_transfer_instructions"),
            },
            status=exc.status_code,
        )
    return download_response(stored)


@login_required
def included_download(request, product_id):
    """A product the customer's plan includes; refused with what would include it."""
    try:
        stored = register_included_download(user=request.user, product_id=product_id)
    except errors.ProductNotFound as exc:
        raise Http404("No such product.") from exc
    except DomainError as exc:
        return render(
            request,
            "billing/download_refused.html",
            {
                "product": Product.objects.filter(pk=product_id).first(),
                "form_error": exc.message,
                "form_error_code": exc.code,
                "plans": Plan.objects.filter(slug__in=exc.extra.get("plans") or []),
            },
            status=exc.status_code,
        )
    return download_response(stored)
