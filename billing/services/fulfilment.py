"""A paid order is completed: its invoice PAID (issued now when paid by card), its goods
fulfilled (stock, downloads, credit packs), reviews of its products verified. Shared by
card payments (``payments``) and bank transfers (``bank_transfers.record_bank_transfer``).
A paid subscription invoice verifies the subscriber's review of the plan the same way
(``verify_subscriber_reviews``, from the bank-transfer and Stripe invoice paths)."""

from datetime import datetime, timedelta

from django.db.models import F

from accounts.models import User
from billing.models import (
    Invoice,
    InvoiceStatus,
    Order,
    OrderItem,
    OrderStatus,
    Payment,
    PaymentStatus,
    Subscription,
)
from billing.services.numbers import next_number
from catalog.models import Product, ProductType
from catalog.services import verify_reviews
from core import audit
from core.models import AuditAction
from credits.services import grant_credits

CREDIT_SOURCE_PURCHASE = "PURCHASE"


def complete_paid_order(
    order: Order,
    *,
    now: datetime,
    actor: User | None,
    provider: str,
    payment: Payment | None,
    payment_intent_id: str | None = None,
) -> None:
    """``order`` (locked by the caller, inside its transaction) is now paid in full: it is
    completed, its invoice PAID, its goods fulfilled, and the change audited. ``payment`` is
    the row that settled it (None for a free order)."""
    if order.status == OrderStatus.CANCELLED:
        # Money arrived (e.g. Stripe) after the order was cancelled: the customer paid,
        # so they get what they paid for; staff see why in the internal notes.
        order.internal_notes += "\nPaid after cancellation; order re-opened and fulfilled."
        order.cancelled_at = None
    old = {"status": order.status, "payment_status": order.payment_status}
    order.status = OrderStatus.COMPLETED
    order.payment_status = PaymentStatus.SUCCEEDED
    order.completed_at = now
    if payment_intent_id and not order.stripe_payment_intent_id:
        order.stripe_payment_intent_id = payment_intent_id
    order.save()
    if not Invoice.objects.filter(order=order).exists() and order.total > 0:
        # Paid by card: the order's invoice is issued now, already paid.
        invoice = _paid_order_invoice(order, now=now)
        if payment is not None:
            Payment.objects.filter(pk=payment.pk).update(invoice=invoice)
    Invoice.objects.filter(order=order).update(
        status=InvoiceStatus.PAID, amount_paid=F("total"), amount_due=0, paid_at=now, updated_at=now
    )
    _fulfil(order, now=now, actor=actor)
    verify_reviews(
        user=order.user, product_ids=list(order.items.values_list("product_id", flat=True))
    )
    audit.record(
        actor=actor,
        action=AuditAction.STATUS_CHANGE,
        resource=order,
        old=old,
        new={"status": order.status, "payment_status": order.payment_status},
        operation="order_paid",
        provider=provider,
        payment_id=getattr(payment, "pk", None),
    )


def _paid_order_invoice(order: Order, *, now: datetime) -> Invoice:
    """The invoice of an order paid without one (by card): its lines, discount and tax as
    the order holds them."""
    return Invoice.objects.create(
        number=next_number("INV"),
        user=order.user,
        order=order,
        status=InvoiceStatus.PAID,
        billing_source=order.billing_source,
        currency=order.currency,
        lines=[
            {
                "description": item.description,
                "quantity": item.quantity,
                "unit_amount": item.unit_amount,
                "amount": item.line_total,
                "discount": item.discount_amount,
                "tax_rate": str(item.tax_rate),
                "tax": item.tax,
            }
            for item in order.items.order_by("id")
        ],
        subtotal=order.subtotal,
        discount_amount=order.discount_amount,
        tax=order.tax,
        total=order.total,
        amount_paid=order.total,
        amount_due=0,
        paid_at=now,
        finalized_at=now,
        payment_reference=order.number,
    )


def _fulfil(order: Order, *, now: datetime, actor: User | None) -> None:
    """Stock, download entitlements and credits, inside the payment's transaction."""
    shortfalls = []
    for item in order.items.select_related("product").order_by("id"):
        product = item.product
        if product.track_inventory:
            # Never below zero: the conditional UPDATE decrements only if enough is left.
            taken = Product.all_objects.filter(
                pk=product.pk, track_inventory=True, stock_quantity__gte=item.quantity
            ).update(stock_quantity=F("stock_quantity") - item.quantity)
            if not taken:
                shortfalls.append(
                    {"item": item.pk, "product": product.pk, "quantity": item.quantity}
                )
        if product.type == ProductType.DIGITAL_DOWNLOAD or product.download_file_id:
            expires = (
                now + timedelta(days=product.access_duration_days)
                if product.access_duration_days
                else None
            )
            # The download limit was snapshotted at checkout; access starts when paid.
            OrderItem.objects.filter(pk=item.pk).update(access_expires_at=expires)
        if product.type == ProductType.CREDIT_PACK and item.credits_granted > 0:
            grant_credits(
                user=order.user,
                amount=item.credits_granted,
                source=CREDIT_SOURCE_PURCHASE,
                idempotency_key=item.grant_idempotency_key,
                actor=actor,
                details={"order": order.number, "order_item": item.pk},
                source_ref=order.number,
            )
    if shortfalls:
        # Paid but not enough stock: the sale stands and staff must act; never negative stock.
        order.metadata = {**order.metadata, "stock_shortfall": shortfalls}
        order.internal_notes += "\nStock ran out before payment; see metadata.stock_shortfall."
        order.save(update_fields=["metadata", "internal_notes", "updated_at"])


def verify_subscriber_reviews(*, invoice: Invoice, subscription: Subscription) -> None:
    """The subscriber paid ``invoice`` (inside that transaction): their review of the plan's
    product becomes a verified purchase and the product's rating counts it. A free ($0)
    invoice verifies nothing."""
    if invoice.total > 0:
        verify_reviews(user=subscription.user, product_ids=[subscription.plan.product_id])
