"""Refunds: never more than what is left, Stripe called outside any lock.

Two kinds of payment are refunded here: a one-time Order's, and a subscription Invoice's
(its Stripe PaymentIntent and charge recorded by ``invoice_payments``). Both follow the same
rules; an invoice's refund also issues a credit note, takes back the period's plan credits
as the ``billing.refund_credit_clawback`` policy says, adds a timeline entry and leaves a note
on the customer's open tickets. A dispute (chargeback) of an invoice's charge is recorded the
same way, as a refund whose money Stripe took back.

The amount is *reserved* first: under the Order row lock a PENDING Refund row is inserted and
``Order.refunded_amount`` is raised by it (the ``refunded <= total`` constraint is the last
line of defence). Stripe is called after that commits, with the refund's idempotency key;
its answer (or a later ``refund.updated``/``charge.refunded`` event) settles the row. A refund
that fails gives its reservation back. So ``refunded_amount`` is "refunded or being refunded".
"""

import logging
import uuid

import stripe
from django.db import transaction

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
    Refund,
    RefundReason,
)
from billing.services.refund_settlement import (
    new_invoice_refund,
    settle_invoice_refund,
    settle_order_refund,
)
from billing.stripe import client as stripe_client
from billing.stripe import invoice_payments
from core import audit, outbox
from core.models import AuditAction

logger = logging.getLogger(__name__)

REFUNDABLE_STATUSES = (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED)
STRIPE_REASONS: dict[str, str] = {
    RefundReason.DUPLICATE: "duplicate",
    RefundReason.FRAUDULENT: "fraudulent",
    RefundReason.REQUESTED_BY_CUSTOMER: "requested_by_customer",
}
# Keyed by what Stripe sends, which may be missing (None).
STRIPE_STATUS: dict[str | None, str] = {
    "succeeded": Refund.Status.SUCCEEDED,
    "pending": Refund.Status.PENDING,
    "requires_action": Refund.Status.PENDING,
    "failed": Refund.Status.FAILED,
    "canceled": Refund.Status.CANCELED,
}
# A refund's status only moves forward: PENDING may become anything, SUCCEEDED may still
# fail (Stripe reports late failures; a won dispute gives the money back).
ALLOWED: dict[str, set[str]] = {
    Refund.Status.PENDING: {Refund.Status.SUCCEEDED, Refund.Status.FAILED, Refund.Status.CANCELED},
    Refund.Status.SUCCEEDED: {Refund.Status.FAILED},
}
# Stripe errors worth retrying later; anything else is a definite refusal.
# (StripeUnavailable: keys removed from the deployment; the refund waits until they return.)
RETRYABLE = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
    stripe_client.StripeUnavailable,
)


def _reserve(
    document: Order | Invoice,
    field: str,
    *,
    payment: Payment | None,
    amount: int,
    reason: str,
    notes: str,
    actor: User | None,
) -> Refund:
    """A requested refund of ``document`` (an Order or an Invoice, the Refund's ``field``),
    locked by the caller: its row, the amount reserved on the document, the audit line."""
    refund = Refund.objects.create(
        **{field: document},
        payment=payment,
        amount=amount,
        currency=document.currency,
        reason=reason,
        notes=notes,
        provider=document.billing_source,
        idempotency_key=f"refund-{uuid.uuid4().hex}",
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    document.refunded_amount += amount
    document.save(update_fields=["refunded_amount", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.REFUND,
        resource=document,
        old={"refunded_amount": document.refunded_amount - amount},
        new={"refunded_amount": document.refunded_amount},
        refund_id=refund.pk,
        amount=amount,
        currency=document.currency,
        reason=reason,
        notes=notes,
    )
    return refund


def create_refund(
    *, order_id: int, amount: int, reason: str, actor: User | None, notes: str = ""
) -> Refund:
    """Refund ``amount`` minor units of a paid order (full or partial).

    Locks the Order row to reserve the amount. Manual orders are settled at once (the money
    goes back by bank transfer); Stripe orders get a PENDING refund that a task sends to
    Stripe after commit. Raises RefundAmountInvalid, RefundNotAllowed,
    RefundExceedsRemaining (nothing written). Each call is a new refund: not idempotent.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise errors.RefundAmountInvalid(field="amount")
    if reason not in RefundReason.values:
        raise errors.RefundAmountInvalid(
            "Choose a refund reason.", code="refund_reason_invalid", field="reason"
        )
    authority.require(actor, "billing.refund", amount=amount)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in REFUNDABLE_STATUSES or order.total == 0:
            raise errors.RefundNotAllowed()
        remaining = order.total - order.refunded_amount
        if amount > remaining:
            raise errors.RefundExceedsRemaining(remaining=remaining, field="amount")
        payment = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).first()
        refund = _reserve(
            order, "order", payment=payment, amount=amount, reason=reason, notes=notes, actor=actor
        )
        if order.billing_source == BillingSource.MANUAL:
            settle_order_refund(order, refund, Refund.Status.SUCCEEDED, actor=actor)
        else:
            outbox.enqueue("billing.tasks.process_stripe_refund", refund.pk)
    refund.refresh_from_db()
    return refund


def submit_stripe_refund(*, refund_id: int) -> Refund:
    """Send a PENDING refund to Stripe (no lock held) and record the answer. Safe to call
    twice: the idempotency key makes Stripe return the same refund."""
    refund = Refund.objects.select_related("order", "invoice", "payment").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING or refund.stripe_refund_id:
        return refund
    if refund.order is not None:
        intent = refund.order.stripe_payment_intent_id
        metadata = {"refund_id": str(refund.pk), "order_number": refund.order.number}
    else:
        # An invoice's Stripe refund always has its payment (create_invoice_refund requires
        # it; the ones Stripe made already carry their Stripe id and never get here), and a
        # refund without an order has an invoice (database constraint).
        assert refund.payment is not None and refund.invoice is not None
        intent = refund.payment.stripe_payment_intent_id
        metadata = {"refund_id": str(refund.pk), "invoice_number": refund.invoice.number}
    try:
        result = stripe_client.create_refund(
            payment_intent=intent,
            amount=refund.amount,
            reason=STRIPE_REASONS.get(refund.reason),
            metadata=metadata,
            idempotency_key=refund.idempotency_key,
        )
    except RETRYABLE as exc:
        Refund.objects.filter(pk=refund.pk).update(failure_reason=f"Will retry: {exc}"[:2000])
        raise
    except stripe.StripeError as exc:
        return apply_refund_status(
            refund_id=refund.pk, status=Refund.Status.FAILED, failure_reason=str(exc)[:2000]
        )
    return apply_refund_status(
        refund_id=refund.pk,
        stripe_refund_id=result["id"],
        status=STRIPE_STATUS.get(result.get("status"), Refund.Status.PENDING),
    )


def apply_refund_status(
    *,
    refund_id: int,
    status: str,
    stripe_refund_id: str | None = None,
    failure_reason: str = "",
    actor: User | None = None,
) -> Refund:
    """Move a refund to ``status`` if that is a step forward; stale events change nothing.

    Locks the Order then the Refund (always in that order). PENDING may become anything;
    SUCCEEDED may still become FAILED (Stripe reports late failures); FAILED and CANCELED
    are final. Leaving PENDING/SUCCEEDED for a failure gives the reservation back.
    """
    with transaction.atomic():
        order_id, invoice_id = Refund.objects.values_list("order_id", "invoice_id").get(
            pk=refund_id
        )
        if order_id is None:
            assert invoice_id is not None  # a refund has an order or an invoice (constraint)
            invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
            refund = Refund.objects.select_for_update().get(pk=refund_id)
            if stripe_refund_id and not refund.stripe_refund_id:
                refund.stripe_refund_id = stripe_refund_id
                refund.save(update_fields=["stripe_refund_id", "updated_at"])
            if status in ALLOWED.get(refund.status, set()):
                settle_invoice_refund(
                    invoice, refund, status, actor=actor, failure_reason=failure_reason
                )
            refund.refresh_from_db()
            return refund
        order = Order.objects.select_for_update().get(pk=order_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if stripe_refund_id and not refund.stripe_refund_id:
            refund.stripe_refund_id = stripe_refund_id
            refund.save(update_fields=["stripe_refund_id", "updated_at"])
        if status in ALLOWED.get(refund.status, set()):
            settle_order_refund(order, refund, status, actor=actor, failure_reason=failure_reason)
    refund.refresh_from_db()
    return refund


def sync_stripe_refund(
    *, refund_obj: dict, order: Order | None = None, payment: Payment | None = None
) -> Refund | None:
    """Bring one Stripe refund object into our record (from refund.* or charge.refunded).

    Known refunds get the state change if it is a step forward. A refund made in Stripe's
    dashboard is recorded as a new Refund, bounded by what is left like any other.
    """
    status = STRIPE_STATUS.get(refund_obj.get("status"), Refund.Status.PENDING)
    stripe_id = refund_obj["id"]
    metadata = refund_obj.get("metadata") or {}
    ours = _int(metadata.get("refund_id"))
    refund = Refund.objects.filter(stripe_refund_id=stripe_id).first()
    if refund is None and ours is not None:
        refund = Refund.objects.filter(pk=ours, stripe_refund_id__isnull=True).first()
    if refund is not None:
        return apply_refund_status(
            refund_id=refund.pk,
            status=status,
            stripe_refund_id=stripe_id,
            failure_reason=refund_obj.get("failure_reason") or "",
        )
    order = (
        order
        or Order.objects.filter(
            stripe_payment_intent_id=_sid(refund_obj.get("payment_intent")) or "-"
        ).first()
    )
    if order is None:
        if payment is None:
            payment = invoice_payments.find(
                charge=_sid(refund_obj.get("charge")),
                payment_intent=_sid(refund_obj.get("payment_intent")),
            )
        if payment is None:
            return None
        return record_stripe_invoice_refund(payment=payment, refund_obj=refund_obj)
    return _record_stripe_order_refund(order=order, refund_obj=refund_obj, status=status)


def _record_stripe_order_refund(*, order: Order, refund_obj: dict, status: str) -> Refund:
    """A refund made in Stripe's dashboard of an order's payment: a new Refund, bounded by
    what is left of the order like any other, settled at once unless Stripe says PENDING."""
    stripe_id = refund_obj["id"]
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if Refund.objects.filter(stripe_refund_id=stripe_id).exists():
            return Refund.objects.get(stripe_refund_id=stripe_id)
        amount = int(refund_obj["amount"])
        if amount > order.total - order.refunded_amount:
            raise errors.RefundExceedsRemaining(remaining=order.total - order.refunded_amount)
        refund = Refund.objects.create(
            order=order,
            payment=Payment.objects.filter(order=order).first(),
            amount=amount,
            currency=order.currency,
            reason=RefundReason.OTHER,
            provider=BillingSource.STRIPE,
            stripe_refund_id=stripe_id,
            idempotency_key=f"stripe-{stripe_id}",
            notes="Refund made outside the product (Stripe dashboard).",
        )
        order.refunded_amount += amount
        order.save(update_fields=["refunded_amount", "updated_at"])
        if status != Refund.Status.PENDING:
            settle_order_refund(order, refund, status, actor=None)
    return refund


# --- subscription invoices -----------------------------------------------------------------

REFUNDABLE_INVOICE_STATUSES = (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED)


def create_invoice_refund(
    *, invoice_id: int, amount: int, reason: str, actor: User | None, notes: str = ""
) -> Refund:
    """Refund ``amount`` minor units of a paid subscription invoice (staff, from the admin or
    an approved request). Same rules as an order's refund: the amount is reserved under the
    Invoice row lock, Stripe is called after commit (a manual invoice is settled at once:
    the money goes back by bank transfer). Raises RefundAmountInvalid, RefundNotAllowed,
    RefundExceedsRemaining, NotAuthorized (nothing written)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise errors.RefundAmountInvalid(field="amount")
    if reason not in RefundReason.values or reason == RefundReason.DISPUTED:
        raise errors.RefundAmountInvalid(
            "Choose a refund reason.", code="refund_reason_invalid", field="reason"
        )
    authority.require(actor, "billing.refund", amount=amount)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.status not in REFUNDABLE_INVOICE_STATUSES or invoice.amount_paid <= 0:
            raise errors.RefundNotAllowed()
        payment = (
            Payment.objects.filter(invoice=invoice, status=Payment.Status.SUCCEEDED)
            .order_by("id")
            .first()
        )
        stripe_billed = invoice.billing_source == BillingSource.STRIPE
        if payment is None or (stripe_billed and not payment.stripe_payment_intent_id):
            raise errors.RefundNotAllowed(
                "This invoice's payment is not recorded with its Stripe payment: refund it in "
                "Stripe's dashboard (the refund then comes back here by itself)."
            )
        if amount > invoice.refundable_amount:
            raise errors.RefundExceedsRemaining(remaining=invoice.refundable_amount, field="amount")
        refund = _reserve(
            invoice,
            "invoice",
            payment=payment,
            amount=amount,
            reason=reason,
            notes=notes,
            actor=actor,
        )
        if stripe_billed:
            outbox.enqueue("billing.tasks.process_stripe_refund", refund.pk)
        else:
            settle_invoice_refund(invoice, refund, Refund.Status.SUCCEEDED, actor=actor)
    refund.refresh_from_db()
    return refund


def record_stripe_invoice_refund(*, payment: Payment, refund_obj: dict) -> Refund:
    """A refund Stripe made of an invoice's payment (its dashboard, or ours confirmed)."""
    stripe_id = refund_obj["id"]
    status = STRIPE_STATUS.get(refund_obj.get("status"), Refund.Status.PENDING)
    with transaction.atomic():
        invoice = _locked_invoice(payment)
        existing = Refund.objects.filter(stripe_refund_id=stripe_id).first()
        if existing is not None:
            return apply_refund_status(
                refund_id=existing.pk,
                status=status,
                failure_reason=refund_obj.get("failure_reason") or "",
            )
        refund = new_invoice_refund(
            invoice,
            payment,
            amount=int(refund_obj["amount"]),
            reason=RefundReason.OTHER,
            stripe_refund_id=stripe_id,
            idempotency_key=f"stripe-{stripe_id}",
            notes="Refund made outside the product (Stripe dashboard).",
        )
        if status != Refund.Status.PENDING:
            settle_invoice_refund(
                invoice,
                refund,
                status,
                actor=None,
                failure_reason=refund_obj.get("failure_reason") or "",
            )
    refund.refresh_from_db()
    return refund


def record_invoice_dispute(*, payment: Payment, dispute: dict) -> Refund | None:
    """A dispute of an invoice's charge: Stripe withdrew the money, so it is recorded as a
    settled refund (DISPUTED) with its credit note and claw-back. Once per dispute."""
    dispute_id = dispute["id"]
    with transaction.atomic():
        invoice = _locked_invoice(payment)
        existing = Refund.objects.filter(stripe_dispute_id=dispute_id).first()
        if existing is not None:
            return existing
        amount = min(int(dispute.get("amount") or 0), invoice.refundable_amount)
        if amount <= 0:
            logger.warning(
                "Dispute %s of invoice %s: nothing left to take back", dispute_id, invoice.number
            )
            return None
        refund = new_invoice_refund(
            invoice,
            payment,
            amount=amount,
            reason=RefundReason.DISPUTED,
            stripe_dispute_id=dispute_id,
            idempotency_key=f"dispute-{dispute_id}",
            notes=f"Disputed by the cardholder ({dispute.get('reason') or 'no reason given'}).",
        )
        settle_invoice_refund(invoice, refund, Refund.Status.SUCCEEDED, actor=None)
    refund.refresh_from_db()
    return refund


def close_invoice_dispute(*, dispute: dict) -> Refund | None:
    """A won dispute gives the money back: its refund becomes FAILED (the reservation is
    released and the invoice's status follows). A lost one changes nothing more."""
    refund = Refund.objects.filter(stripe_dispute_id=dispute["id"]).first()
    if refund is None or dispute.get("status") != "won":
        return refund
    return apply_refund_status(
        refund_id=refund.pk,
        status=Refund.Status.FAILED,
        failure_reason="Dispute won: Stripe returned the money.",
    )


def retry_pending_refunds() -> int:
    """Resubmit Stripe refunds whose API call failed with a retryable error."""
    count = 0
    for refund_id in Refund.objects.filter(
        status=Refund.Status.PENDING, provider=BillingSource.STRIPE, stripe_refund_id__isnull=True
    ).values_list("id", flat=True):
        try:
            submit_stripe_refund(refund_id=refund_id)
        except RETRYABLE:
            logger.warning("Stripe refund %s still failing; will retry", refund_id)
            continue
        count += 1
    return count


def _locked_invoice(payment: Payment) -> Invoice:
    """The invoice ``payment`` paid, locked (Invoice.DoesNotExist for an order's payment)."""
    if payment.invoice_id is None:
        raise Invoice.DoesNotExist("This payment is not an invoice's.")
    invoice: Invoice = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
    return invoice


def _sid(value: str | dict | None) -> str:
    """A Stripe id from a field that may hold the id or the expanded object."""
    if isinstance(value, dict):
        object_id: str = value.get("id") or ""
        return object_id
    return value or ""


def _int(value: str | int | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
