"""Billing's pages: cart, checkout, success/cancel, orders, invoice, downloads; the webhook."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.system_config import get_config
from billing import errors, selectors, stripe_client
from billing.api import download_response
from billing.models import BillingSource, Order
from billing.services import cart as cart_service
from billing.services.checkout import checkout
from billing.services.downloads import register_download
from billing.services.inbox import InvalidEvent, record_event
from billing.webhooks import SignatureError, verify_signature
from config.api import DomainError
from config.outbox.services import publish

logger = logging.getLogger(__name__)


class _ThenResponse(HttpResponse):
    """An answer that runs ``then()`` once the server has sent it: a WSGI server calls
    ``close()`` after the last byte, so the sender no longer waits for ``then``."""

    def __init__(self, *args, then, **kwargs):
        super().__init__(*args, **kwargs)
        self._then = then

    def close(self):
        then, self._then = self._then, None
        if then is not None:
            # Before super().close(): its request_finished signal may close the connection.
            try:
                then()
            except Exception:  # noqa: BLE001 - the answer is sent; the relay retries
                logger.exception("Work after the response failed")
        super().close()


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verify, record, answer; then publish the processing task. The event and its outbox row
    commit together (services.inbox.record_event), so the task cannot be lost; publishing
    after the answer keeps the broker off Stripe's wait, and a failed publish is left to the
    outbox relay."""
    body = request.body
    try:
        verify_signature(body=body, header=request.headers.get("Stripe-Signature", ""),
                         secret=settings.STRIPE.get("webhook_secret", ""))
        recorded = record_event(body=body, publish=False)
    except (SignatureError, InvalidEvent) as exc:
        logger.warning("Stripe webhook refused: %s", exc)
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    if recorded.message_id is None:  # a duplicate delivery: nothing new to process
        return HttpResponse("ok", content_type="text/plain")
    return _ThenResponse("ok", content_type="text/plain",
                         then=lambda: publish(recorded.message_id))


def _cart_context(user):
    quote, problem = cart_service.cart_quote(user=user)
    cart = cart_service.get_cart(user=user)
    return {"quote": quote, "discount_problem": problem, "cart": cart,
            "unavailable": cart_service.unavailable_items(user=user),
            "stripe_available": stripe_client.is_configured()}


@login_required
def cart_page(request):
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add":
                cart_service.add_item(
                    user=request.user, product_id=_int(request.POST.get("product_id")),
                    quantity=_int(request.POST.get("quantity"), 1),
                    price_id=_int(request.POST.get("price_id"), None),
                    variant_id=_int(request.POST.get("variant_id"), None))
                messages.success(request, "Added to your cart.")
            elif action == "update":
                cart_service.update_item(user=request.user,
                                         item_id=_int(request.POST.get("item_id")),
                                         quantity=_int(request.POST.get("quantity")))
                messages.success(request, "Quantity updated.")
            elif action == "remove":
                cart_service.remove_item(user=request.user,
                                         item_id=_int(request.POST.get("item_id")))
                messages.success(request, "Item removed.")
            elif action == "apply_code":
                cart_service.apply_code(user=request.user, code=request.POST.get("code", ""))
                messages.success(request, "Discount code applied.")
            elif action == "remove_code":
                cart_service.remove_code(user=request.user)
                messages.success(request, "Discount code removed.")
        except DomainError as exc:
            context = _cart_context(request.user)
            context["form_error"] = exc.message
            context["form_error_code"] = exc.code
            return render(request, "billing/cart.html", context, status=400)
        return redirect("billing:cart")
    return render(request, "billing/cart.html", _cart_context(request.user))


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
                user=request.user, method=method, notes=request.POST.get("notes", "")[:2000],
                success_url=request.build_absolute_uri(reverse("billing:checkout-success"))
                + "?session_id={CHECKOUT_SESSION_ID}",
                cancel_url=request.build_absolute_uri(reverse("billing:checkout-cancel")))
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
    order = Order.objects.filter(user=request.user,
                                 stripe_checkout_session_id=request.GET.get("session_id") or "-"
                                 ).first()
    return render(request, "billing/checkout_success.html", {"order": order})


@login_required
def checkout_cancel(request):
    return render(request, "billing/checkout_cancel.html", {})


@login_required
def order_list(request):
    page = Paginator(selectors.orders_for_user(user=request.user), 20).get_page(
        request.GET.get("page"))
    return render(request, "billing/order_list.html", {"page": page})


def _order_or_404(request, number):
    order = selectors.order_for_user(user=request.user, number=number)
    if order is None:
        raise Http404("No such order.")
    return order


@login_required
def order_detail(request, number):
    order = _order_or_404(request, number)
    return render(request, "billing/order_detail.html", {
        "order": order, "invoice": order.invoice_or_none,
        "bank_instructions": get_config("billing.bank_transfer_instructions")})


@login_required
def invoice_page(request, number):
    order = _order_or_404(request, number)
    invoice = order.invoice_or_none
    if invoice is None:
        raise Http404("This order has no invoice.")
    return render(request, "billing/invoice.html", {
        "order": order, "invoice": invoice,
        "bank_instructions": get_config("billing.bank_transfer_instructions"),
        "business_name": get_config("business_name"),
        "business_address": get_config("business_address"),
        "business_tax_id": get_config("business_tax_id")})


@login_required
def download(request, number, item_id):
    try:
        stored = register_download(user=request.user, order_number=number, item_id=item_id)
    except errors.OrderNotFound as exc:
        raise Http404("No such order.") from exc
    except DomainError as exc:
        order = _order_or_404(request, number)
        messages.error(request, exc.message)
        return render(request, "billing/order_detail.html", {
            "order": order, "invoice": order.invoice_or_none, "form_error": exc.message,
            "form_error_code": exc.code,
            "bank_instructions": get_config("billing.bank_transfer_instructions")},
            status=exc.status_code)
    return download_response(stored)
