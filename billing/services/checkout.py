"""Checkout: the cart becomes an Order, priced again on the server, then paid through a
Stripe Checkout Session or by bank transfer against an Invoice."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.profile import clean_address
from billing import errors
from billing.models import (
    BillingSource,
    Invoice,
    InvoiceStatus,
    Order,
    OrderItem,
)
from billing.pricing import Quote, QuoteLine, build_quote
from billing.services import cart as cart_service
from billing.services import discounts
from billing.services.customers import ensure_stripe_customer
from billing.services.numbers import next_number
from billing.services.payments import cancel_order, mark_order_paid
from billing.stripe import client as stripe_client
from catalog.models import Product
from core import audit
from core.models import AuditAction
from core.system_config import get_config

logger = logging.getLogger(__name__)


@dataclass
class CheckoutResult:
    order: Order
    redirect_url: str
    invoice: Invoice | None = None


def _check_stock(quote: Quote) -> None:
    needed: dict[int, int] = {}
    for line in quote.lines:
        if line.product.track_inventory:
            needed[line.product.pk] = needed.get(line.product.pk, 0) + line.quantity
    for product in Product.objects.filter(pk__in=needed):
        if product.stock_quantity < needed[product.pk]:
            raise errors.InsufficientStock(product=product.pk, available=product.stock_quantity)


def _create_order(
    *, user: User, quote: Quote, source: str, notes: str, billing_address: dict[str, str] | None
) -> Order:
    order = Order.objects.create(
        number=next_number("ORD"),
        user=user,
        billing_source=source,
        currency=quote.currency,
        subtotal=quote.subtotal,
        discount_amount=quote.discount_amount,
        tax=quote.tax,
        total=quote.total,
        discount=quote.discount,
        notes=notes,
        billing_address=billing_address,
    )
    OrderItem.objects.bulk_create(
        [
            OrderItem(
                order=order,
                product=line.product,
                price=line.price,
                variant=line.variant,
                description=line.description,
                product_type=line.product.type,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                line_total=line.line_total,
                discount_amount=line.discount_amount,
                tax_rate=line.tax_rate,
                tax=line.tax,
                credits_granted=line.product.credits_granted * line.quantity,
                download_limit=line.product.download_limit,
            )
            for line in quote.lines
        ]
    )
    return order


def _create_invoice(order: Order, quote: Quote) -> Invoice:
    return Invoice.objects.create(
        number=next_number("INV"),
        user=order.user,
        order=order,
        status=InvoiceStatus.OPEN,
        billing_source=BillingSource.MANUAL,
        currency=order.currency,
        lines=[
            *(
                {
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit_amount": line.unit_amount,
                    "amount": line.line_total,
                    "discount": line.discount_amount,
                    "tax_rate": str(line.tax_rate),
                    "tax": line.tax,
                }
                for line in quote.lines
            ),
            *[
                note
                for note in {
                    str(line.tax_note): line.tax_note for line in quote.lines if line.tax_note
                }.values()
            ],
        ],
        subtotal=order.subtotal,
        discount_amount=order.discount_amount,
        tax=order.tax,
        total=order.total,
        amount_due=order.total,
        due_date=(timezone.now() + timedelta(days=get_config("billing.invoice_due_days"))).date(),
        payment_reference=order.number,
    )


def _order_billing_address(value: object) -> dict[str, str] | None:
    """What an order keeps of a billing address a client sent: the address fields only."""
    try:
        return clean_address(value, drop_unknown=True)
    except ValidationError as exc:
        raise ValidationError({"billing_address": exc.messages}) from exc


def _place_order(
    *,
    user: User,
    lines: list[QuoteLine],
    method: str,
    notes: str,
    billing_address: dict[str, str] | None,
) -> tuple[Order, Quote, Invoice | None]:
    """The PENDING order (and its invoice when paid by transfer), its discount use counted
    under the Discount row lock, in one transaction."""
    cart = cart_service.get_cart(user=user)
    with transaction.atomic():
        discount = None
        if cart.discount_id:
            base = build_quote(lines)
            discount = discounts.lock_and_validate(
                discount_id=cart.discount_id,
                user=user,
                lines=lines,
                currency=base.currency,
                promotion_id=cart.promotion_code_id,
            )
        quote = build_quote(lines, discount=discount)
        _check_stock(quote)
        order = _create_order(
            user=user, quote=quote, source=method, notes=notes, billing_address=billing_address
        )
        if discount is not None:
            discounts.redeem(
                discount=discount,
                order=order,
                user=user,
                amount_saved=quote.discount_amount,
                promotion=cart.promotion_code,
            )
        invoice = None
        if method == BillingSource.MANUAL:
            invoice = _create_invoice(order, quote)
            cart_service.clear(user=user)
        audit.record(
            actor=user,
            action=AuditAction.CREATE,
            resource=order,
            new={
                "number": order.number,
                "total": order.total,
                "currency": order.currency,
                "method": method,
            },
        )
    return order, quote, invoice


def checkout(
    *,
    user: User,
    method: str | None = None,
    discount_code: str | None = None,
    notes: str = "",
    billing_address: dict | None = None,
    success_url: str = "",
    cancel_url: str = "",
) -> CheckoutResult:
    """Turn the user's cart into a PENDING order priced on the server.

    ``method`` is "stripe" or "manual" (default: Stripe when configured). The discount row is
    locked while its limits are checked and its use counted, so concurrent checkouts cannot
    exceed them. Stripe is called after that transaction commits; if it fails the order is
    cancelled (its discount use released) and the cart is kept. ``billing_address`` keeps
    only the address fields (other keys are dropped), validated as the profile validates the
    user's own. Raises CartEmpty, DiscountError subclasses, InsufficientStock,
    StripeNotConfigured, PaymentProviderError, or ValidationError for a bad address.
    Not idempotent: each call makes a new order.
    """
    billing_address = _order_billing_address(billing_address)
    method = method or (
        BillingSource.STRIPE if stripe_client.is_configured() else BillingSource.MANUAL
    )
    if method == BillingSource.STRIPE and not stripe_client.is_configured():
        raise errors.StripeNotConfigured()
    if discount_code:
        cart_service.apply_code(user=user, code=discount_code)
    lines = cart_service.cart_lines(user=user)
    if not lines:
        raise errors.CartEmpty()
    order, quote, invoice = _place_order(
        user=user, lines=lines, method=method, notes=notes, billing_address=billing_address
    )
    if order.total == 0:
        # Nothing to collect (a 100 % code): complete now, with no payment row.
        mark_order_paid(
            order_id=order.pk, provider=method, provider_id="", amount=0, currency=order.currency
        )
        cart_service.clear(user=user)
        order.refresh_from_db()
        return CheckoutResult(order=order, redirect_url="", invoice=invoice)
    if method == BillingSource.MANUAL:
        return CheckoutResult(order=order, redirect_url="", invoice=invoice)
    url = _start_stripe_checkout(
        order=order, quote=quote, success_url=success_url, cancel_url=cancel_url
    )
    cart_service.clear(user=user)
    order.refresh_from_db()
    return CheckoutResult(order=order, redirect_url=url)


def session_params(
    *, order: Order, quote: Quote, customer_id: str, success_url: str, cancel_url: str
) -> dict:
    """One Stripe line per order line, already net of discount and with tax, so the amount
    Stripe collects is exactly our total (Stripe never re-prices)."""
    items = []
    for line in quote.lines:
        amount = line.net + line.tax
        if amount > 0:
            items.append(
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": order.currency,
                        "unit_amount": amount,
                        "product_data": {"name": f"{line.quantity} × {line.description}"},
                    },
                }
            )
    metadata = {"order_id": str(order.pk), "order_number": order.number}
    return {
        "mode": "payment",
        "customer": customer_id,
        "client_reference_id": order.number,
        "line_items": items,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }


def _start_stripe_checkout(*, order: Order, quote: Quote, success_url: str, cancel_url: str) -> str:
    try:
        customer_id = ensure_stripe_customer(user=order.user)
        session = stripe_client.create_checkout_session(
            params=session_params(
                order=order,
                quote=quote,
                customer_id=customer_id,
                success_url=success_url,
                cancel_url=cancel_url,
            ),
            idempotency_key=f"checkout-session-order-{order.pk}",
        )
    except (stripe_client.stripe.StripeError, errors.PaymentProviderError) as exc:
        logger.warning("Stripe checkout failed for %s: %s", order.number, exc)
        cancel_order(order_id=order.pk, actor=None, reason="Stripe checkout could not start.")
        raise errors.PaymentProviderError() from exc
    Order.objects.filter(pk=order.pk).update(
        stripe_checkout_session_id=session["id"],
        checkout_url=session.get("url") or "",
        stripe_payment_intent_id=session.get("payment_intent") or None,
        updated_at=timezone.now(),
    )
    return session.get("url") or ""
