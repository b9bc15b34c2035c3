"""A refund's new status applied to it and to its order or invoice (both rows locked by the
caller): the amount reserved on the document given back when the refund fails, the
document's status from what has been refunded, the audit line, and the consequences of a
refund that went through (a credit pack's credits taken back, an invoice's credit note)."""

from django.db.models import Sum
from django.utils import timezone

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
    Refund,
)
from billing.services import credit_notes
from core import audit
from core.models import AuditAction
from credits.corrections import claw_back_grant


def settle_order_refund(
    order: Order, refund: Refund, status: str, *, actor: User | None, failure_reason: str = ""
) -> None:
    """Apply a refund's new status to it and its order (both rows locked by the caller)."""
    was = refund.status
    refund.status = status
    refund.processed_at = timezone.now()
    refund.failure_reason = failure_reason or refund.failure_reason
    refund.save(update_fields=["status", "processed_at", "failure_reason", "updated_at"])
    if status in (Refund.Status.FAILED, Refund.Status.CANCELED):
        order.refunded_amount -= refund.amount
    succeeded = (
        Refund.objects.filter(order=order, status=Refund.Status.SUCCEEDED).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    if succeeded >= order.total:
        order.status, order.payment_status = OrderStatus.REFUNDED, PaymentStatus.REFUNDED
    elif succeeded > 0:
        order.status, order.payment_status = (
            OrderStatus.PARTIALLY_REFUNDED,
            PaymentStatus.SUCCEEDED,
        )
    else:
        order.status, order.payment_status = OrderStatus.COMPLETED, PaymentStatus.SUCCEEDED
    order.save(update_fields=["status", "payment_status", "refunded_amount", "updated_at"])
    if status == Refund.Status.SUCCEEDED and was == Refund.Status.PENDING:
        _claw_back_credits(order, refund, actor=actor, full=order.status == OrderStatus.REFUNDED)
    audit.record(
        actor=actor,
        action=AuditAction.REFUND,
        resource=refund,
        old={"status": was},
        new={"status": status},
        order=order.number,
    )


def _claw_back_credits(order: Order, refund: Refund, *, actor: User | None, full: bool) -> None:
    """Take back the credits a refunded credit pack granted, in proportion to the refund
    (everything left when the order is fully refunded), up to what is still unspent."""
    items = [item for item in order.items.order_by("id") if item.credits_granted > 0]
    if not items:
        return
    for item in items:
        amount = None if full else item.credits_granted * refund.amount // order.total
        if amount == 0:
            continue
        claw_back_grant(
            user=order.user,
            grant_idempotency_key=item.grant_idempotency_key,
            amount=amount,
            reason=f"Refund of order {order.number}",
            actor=actor,
            idempotency_key=f"refund-{refund.pk}-item-{item.pk}",
        )


def new_invoice_refund(
    invoice: Invoice,
    payment: Payment,
    *,
    amount: int,
    reason: str,
    idempotency_key: str,
    notes: str,
    stripe_refund_id: str | None = None,
    stripe_dispute_id: str | None = None,
) -> Refund:
    if amount > invoice.refundable_amount:
        raise errors.RefundExceedsRemaining(remaining=invoice.refundable_amount)
    refund = Refund.objects.create(
        invoice=invoice,
        payment=payment,
        amount=amount,
        currency=invoice.currency,
        reason=reason,
        provider=BillingSource.STRIPE,
        stripe_refund_id=stripe_refund_id,
        stripe_dispute_id=stripe_dispute_id,
        idempotency_key=idempotency_key,
        notes=notes,
    )
    invoice.refunded_amount += amount
    invoice.save(update_fields=["refunded_amount", "updated_at"])
    return refund


def settle_invoice_refund(
    invoice: Invoice, refund: Refund, status: str, *, actor: User | None, failure_reason: str = ""
) -> None:
    """Apply a refund's new status to it and its invoice (both rows locked by the caller)."""
    was = refund.status
    refund.status = status
    refund.processed_at = timezone.now()
    refund.failure_reason = failure_reason or refund.failure_reason
    refund.save(update_fields=["status", "processed_at", "failure_reason", "updated_at"])
    if status in (Refund.Status.FAILED, Refund.Status.CANCELED):
        invoice.refunded_amount -= refund.amount
    succeeded = (
        Refund.objects.filter(invoice=invoice, status=Refund.Status.SUCCEEDED).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    if succeeded >= invoice.amount_paid:
        invoice.status = InvoiceStatus.REFUNDED
    elif succeeded > 0:
        invoice.status = InvoiceStatus.PARTIALLY_REFUNDED
    else:
        invoice.status = InvoiceStatus.PAID
    invoice.save(update_fields=["status", "refunded_amount", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.REFUND,
        resource=refund,
        old={"status": was},
        new={"status": status},
        invoice=invoice.number,
    )
    if status == Refund.Status.SUCCEEDED and was == Refund.Status.PENDING:
        credit_notes.after_invoice_refund(invoice, refund)
    elif was == Refund.Status.SUCCEEDED and status == Refund.Status.FAILED:
        money = credit_notes.refund_money(refund)
        credit_notes.tell(
            invoice,
            refund,
            f"The refund of {money} on invoice {invoice.number} "
            f"did not go through: "
            f"{refund.failure_reason or 'Stripe reported a failure'}.",
            customer_words=f"The refund of {money} on invoice {invoice.number} did not go through.",
        )
