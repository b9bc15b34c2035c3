"""Payment outcomes: an order is paid (exactly once) and fulfilled, fails, or is cancelled."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts import authority
from accounts.models import User
from billing import errors
from billing.models import (
    BillingSource,
    Invoice,
    InvoiceStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from billing.services import discounts
from billing.services.bank_transfers import record_bank_transfer
from billing.services.fulfilment import complete_paid_order
from core import audit
from core.models import AuditAction


def _lock_order(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def mark_order_paid(
    *,
    order_id: int,
    provider: str,
    provider_id: str,
    amount: int,
    currency: str,
    actor: User | None = None,
    paid_at: datetime | None = None,
    method: dict | None = None,
    payment_intent_id: str | None = None,
) -> Order:
    """Record the payment of an order and fulfil it. Safe to call any number of times.

    Locks the Order row. An order already paid is returned unchanged (duplicate webhooks,
    several success events for one checkout, a double click on "mark paid"); for Stripe the
    unique "one succeeded Stripe payment per order" constraint backs this, for a bank transfer
    the unique bank reference (``provider_id``). Raises PaymentAmountMismatch
    when the amount or currency differs from the order's total, OrderNotPayable for a
    manual payment of a cancelled order.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.payment_status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            return order
        if amount != order.total or currency.lower() != order.currency:
            raise errors.PaymentAmountMismatch(expected=order.total, received=amount)
        if order.status == OrderStatus.CANCELLED and provider == BillingSource.MANUAL:
            raise errors.OrderNotPayable()
        now = paid_at or timezone.now()
        method = method or {}
        payment = None
        if amount > 0:
            payment = Payment.objects.create(
                user=order.user,
                order=order,
                invoice=Invoice.objects.filter(order=order).first(),
                provider=provider,
                provider_id=provider_id or "",
                amount=amount,
                currency=order.currency,
                status=Payment.Status.SUCCEEDED,
                paid_at=now,
                method_type=method.get("type", ""),
                method_brand=method.get("brand", ""),
                method_last4=method.get("last4", ""),
                recorded_by=actor if getattr(actor, "pk", None) else None,
            )
        complete_paid_order(
            order,
            now=now,
            actor=actor,
            provider=provider,
            payment=payment,
            payment_intent_id=payment_intent_id,
        )
    return order


def mark_paid_manually(
    *,
    order_id: int,
    actor: User | None,
    reference: str = "",
    paid_at: datetime | None = None,
    amount: int | None = None,
) -> Order:
    """Staff confirm a bank transfer for a manual order: ``amount`` minor units received
    (None: all that is due) on ``paid_at`` (None: now) with the bank ``reference``.

    An order with an invoice (every manual checkout has one) is paid through it
    (``invoices.mark_invoice_paid``'s rules: a part payment leaves the order pending and the
    invoice open for the rest; the last one completes and fulfils the order). An order
    without an invoice is paid in full only. Safe to repeat. Raises NotAuthorized /
    ApprovalRequired (staff policy, sized by the amount received), OrderNotPayable and the
    payment refusals of ``mark_invoice_paid``."""
    order = Order.objects.get(pk=order_id)
    invoice = order.invoice_or_none
    due = invoice.amount_due if invoice is not None else order.total
    authority.require(actor, "billing.order.mark_paid", amount=due if amount is None else amount)
    if order.billing_source != BillingSource.MANUAL:
        raise errors.OrderNotPayable("Only manual (bank transfer) orders can be marked paid.")
    if order.status not in (OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.COMPLETED):
        raise errors.OrderNotPayable()
    if invoice is not None:
        record_bank_transfer(
            invoice_id=invoice.pk, actor=actor, reference=reference, paid_at=paid_at, amount=amount
        )
        order.refresh_from_db()
        return order
    if amount is not None and amount != order.total:
        raise errors.PaymentAmountInvalid(
            "This order has no invoice to pay in parts: it is marked paid in full only.",
            field="amount",
        )
    if paid_at is not None and paid_at > timezone.now():
        raise errors.PaymentDateInvalid(field="paid_at")
    return mark_order_paid(
        order_id=order.pk,
        provider=BillingSource.MANUAL,
        provider_id=reference or f"manual-{order.number}",
        amount=order.total,
        currency=order.currency,
        actor=actor,
        paid_at=paid_at,
        method={"type": "bank_transfer"},
    )


def record_payment_failed(*, order_id: int, final: bool = False) -> Order:
    """A payment attempt failed. Never downgrades an order that has been paid (events may
    arrive late). ``final`` (e.g. async payment failed) cancels the order."""
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status != OrderStatus.PENDING and order.status != OrderStatus.PROCESSING:
            return order
        order.payment_status = PaymentStatus.FAILED
        order.save(update_fields=["payment_status", "updated_at"])
    if final:
        return cancel_order(order_id=order_id, actor=None, reason="Payment failed.")
    return order


def mark_processing(*, order_id: int) -> Order:
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status == OrderStatus.PENDING:
            order.status = OrderStatus.PROCESSING
            order.payment_status = PaymentStatus.PROCESSING
            order.save(update_fields=["status", "payment_status", "updated_at"])
    return order


def cancel_order(*, order_id: int, actor: User | None, reason: str = "") -> Order:
    """Cancel an unpaid order: its discount use is given back, its invoice voided.
    Raises OrderNotCancellable unless the order is PENDING or PROCESSING and unpaid."""
    with transaction.atomic():
        order = _lock_order(order_id)
        authority.require(actor, "billing.order.cancel", owner_id=order.user_id)
        if order.status == OrderStatus.CANCELLED:
            return order
        if (
            order.status not in (OrderStatus.PENDING, OrderStatus.PROCESSING)
            or order.payment_status == PaymentStatus.SUCCEEDED
        ):
            raise errors.OrderNotCancellable()
        old = {"status": order.status}
        order.status = OrderStatus.CANCELLED
        if order.payment_status != PaymentStatus.FAILED:
            order.payment_status = PaymentStatus.CANCELLED
        order.cancelled_at = timezone.now()
        if reason:
            order.internal_notes = (order.internal_notes + f"\nCancelled: {reason}").strip()
        order.save()
        discounts.release(order=order)
        Invoice.objects.filter(order=order, status=InvoiceStatus.OPEN).update(
            status=InvoiceStatus.VOID, updated_at=timezone.now()
        )
        audit.record(
            actor=actor,
            action=AuditAction.STATUS_CHANGE,
            resource=order,
            old=old,
            new={"status": order.status},
            operation="order_cancelled",
            reason=reason,
        )
    return order
